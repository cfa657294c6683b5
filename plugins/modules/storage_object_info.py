#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: storage_object_info
short_description: Read one Cloud Storage object or the objects under a prefix
version_added: 0.1.0
description:
  - Tells whether an object exists (for example the marker a model download writes last) and
    lists the objects under a prefix with their sizes. Changes nothing.
options:
  bucket:
    description: Bucket name.
    type: str
    required: true
  name:
    description: Name of one object to read. Mutually exclusive with O(prefix).
    type: str
  prefix:
    description: List the objects whose names start with this prefix.
    type: str
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - ansible.builtin.action_common_attributes
  - gke_inference.multicluster.attributes.info_module
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Is the model complete in the bucket?
  gke_inference.multicluster.storage_object_info:
    project: my-project
    bucket: my-project-gemma-weights
    name: google/gemma-3-27b-it/.download-complete
  register: marker

- name: What is there
  gke_inference.multicluster.storage_object_info:
    project: my-project
    bucket: my-project-gemma-weights
    prefix: google/gemma-3-27b-it/
  register: weights
"""

RETURN = r"""
exists:
  description: With O(name), whether the object exists; with O(prefix), whether any object does.
  returned: success
  type: bool
object:
  description: The object read with O(name) (name, size in bytes, updated, generation); empty if absent.
  returned: success
  type: dict
objects:
  description: With O(prefix), the objects under it (name, size, updated).
  returned: success
  type: list
  elements: dict
total_bytes:
  description: With O(prefix), the total size of the objects listed.
  returned: success
  type: int
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import bucket_error


def describe(blob):
    return {"name": blob.name, "size": int(blob.size or 0), "generation": str(blob.generation or ""),
            "updated": blob.updated.isoformat() if blob.updated else None}


def main():
    module = GcpModule(
        argument_spec=dict(bucket=dict(type="str", required=True), name=dict(type="str"), prefix=dict(type="str")),
        mutually_exclusive=[("name", "prefix")],
        required_one_of=[("name", "prefix")],
        supports_check_mode=True,
    )
    p = module.params
    error = bucket_error("bucket", p["bucket"])
    if error:
        module.fail_json(msg=error)
    client = module.client("storage")
    bucket = client.bucket(p["bucket"])
    if p["name"] is not None:
        blob = module.get_or_none("read gs://%s/%s" % (p["bucket"], p["name"]), bucket.get_blob, p["name"])
        module.exit_json(changed=False, exists=blob is not None, object=describe(blob) if blob is not None else {},
                         objects=[], total_bytes=int(blob.size or 0) if blob is not None else 0)
    blobs = module.call("list gs://%s/%s" % (p["bucket"], p["prefix"]),
                        lambda: list(client.list_blobs(p["bucket"], prefix=p["prefix"])))
    objects = [describe(b) for b in blobs]
    module.exit_json(changed=False, exists=bool(objects), object={}, objects=objects,
                     total_bytes=sum(o["size"] for o in objects))


if __name__ == "__main__":
    main()
