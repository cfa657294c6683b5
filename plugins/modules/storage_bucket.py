#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: storage_bucket
short_description: Manage a Cloud Storage bucket
version_added: 0.1.0
description:
  - Creates, updates or deletes a Cloud Storage bucket, with uniform bucket-level access and public
    access prevention on by default.
  - The location cannot change. A bucket that holds objects is only deleted with O(force=true).
options:
  name:
    description: Name of the bucket (globally unique).
    type: str
    required: true
  location:
    description: Location, for example V(US) or V(europe-west4).
    type: str
    default: US
  storage_class:
    description: Default storage class.
    type: str
    choices: [STANDARD, NEARLINE, COLDLINE, ARCHIVE]
    default: STANDARD
  uniform_bucket_level_access:
    description: Use IAM only (no object ACLs).
    type: bool
    default: true
  public_access_prevention:
    description: V(enforced) blocks any public access.
    type: str
    choices: [enforced, inherited]
    default: enforced
  versioning:
    description: Keep old object versions. Not managed when omitted.
    type: bool
  labels:
    description: Labels. Not managed when omitted; when given, they replace the bucket's labels.
    type: dict
  force:
    description: With O(state=absent), delete the bucket's objects first (up to 256 objects).
    type: bool
    default: false
  state:
    description: Whether the bucket should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Bucket for model weights
  gke_inference.multicluster.storage_bucket:
    project: my-project
    name: my-project-gemma-weights
    location: US
"""

RETURN = r"""
bucket:
  description: The bucket's managed settings; empty after deletion.
  returned: success
  type: dict
  sample:
    name: my-project-gemma-weights
    location: US
    storage_class: STANDARD
    uniform_bucket_level_access: true
    public_access_prevention: enforced
changes:
  description: The fields that differed from the desired state.
  returned: when the bucket existed
  type: list
  elements: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import compare, diff_result, merged
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import bucket_error


def describe(bucket):
    return dict(
        name=bucket.name, location=(bucket.location or "").upper(), storage_class=bucket.storage_class,
        uniform_bucket_level_access=bool(bucket.iam_configuration.uniform_bucket_level_access_enabled),
        public_access_prevention=bucket.iam_configuration.public_access_prevention,
        versioning=bool(bucket.versioning_enabled), labels=dict(bucket.labels or {}),
        project_number=str(bucket.project_number) if bucket.project_number else None,
    )


def apply(bucket, settings):
    if settings.get("storage_class") is not None:
        bucket.storage_class = settings["storage_class"]
    if settings.get("uniform_bucket_level_access") is not None:
        bucket.iam_configuration.uniform_bucket_level_access_enabled = settings["uniform_bucket_level_access"]
    if settings.get("public_access_prevention") is not None:
        bucket.iam_configuration.public_access_prevention = settings["public_access_prevention"]
    if settings.get("versioning") is not None:
        bucket.versioning_enabled = settings["versioning"]
    if settings.get("labels") is not None:
        bucket.labels = settings["labels"]


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            location=dict(type="str", default="US"),
            storage_class=dict(type="str", choices=["STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"], default="STANDARD"),
            uniform_bucket_level_access=dict(type="bool", default=True),
            public_access_prevention=dict(type="str", choices=["enforced", "inherited"], default="enforced"),
            versioning=dict(type="bool"),
            labels=dict(type="dict"),
            force=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    error = bucket_error("name", p["name"])
    if error:
        module.fail_json(msg=error)
    client = module.client("storage")
    existing = module.get_or_none("read bucket %s" % p["name"], client.get_bucket, p["name"])
    actual = describe(existing) if existing is not None else None

    if p["state"] == "absent":
        module.exit_absent(actual, lambda: module.call("delete bucket %s" % p["name"], existing.delete, force=p["force"]),
                           "bucket")

    desired = dict(name=p["name"], location=p["location"].upper(), storage_class=p["storage_class"],
                   uniform_bucket_level_access=p["uniform_bucket_level_access"],
                   public_access_prevention=p["public_access_prevention"], versioning=p["versioning"],
                   labels=p["labels"])
    if actual is None:
        if not module.check_mode:
            bucket = client.bucket(p["name"])
            apply(bucket, desired)
            created = module.call("create bucket %s" % p["name"], client.create_bucket, bucket,
                                  location=p["location"], project=module.project)
            actual = describe(created)
        module.exit_json(changed=True, bucket=actual or desired, diff=diff_result({}, actual or desired))

    changes = compare(desired, actual)
    if "location" in changes:
        module.fail_json(msg="location: bucket %s is in %s; the location of a bucket cannot change. Keep location %s, "
                             "or use another bucket name." % (p["name"], actual["location"], actual["location"]))
    if changes and not module.check_mode:
        apply(existing, desired)
        module.call("update bucket %s" % p["name"], existing.patch)
        actual_after = describe(existing)
    else:
        actual_after = merged(actual, desired)
    module.exit_json(changed=bool(changes), bucket=actual_after, changes=sorted(changes),
                     diff=diff_result(actual, actual_after))


if __name__ == "__main__":
    main()
