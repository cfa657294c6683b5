#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_membership
short_description: Register a GKE cluster to the project's fleet
version_added: 0.1.0
description:
  - Creates or deletes a GKE Hub membership for a GKE cluster
    (C(endpoint.gkeCluster.resourceLink)), so multi-cluster services, multi-cluster ingress and the
    multi-cluster Inference Gateway can use it.
  - A membership cannot be moved to another cluster; that fails with a message.
options:
  name:
    description: Membership id (the codelab uses the cluster name).
    type: str
    required: true
  cluster:
    description: Name of the GKE cluster. Required with O(state=present).
    type: str
  cluster_location:
    description: Location (zone or region) of the cluster. Required with O(state=present).
    type: str
  location:
    description: Location of the membership.
    type: str
    default: global
  state:
    description: Whether the membership should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
  - gke_inference.multicluster.gcp.OPERATION
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Register the US cluster
  gke_inference.multicluster.fleet_membership:
    project: my-project
    name: gke-us-east5
    cluster: gke-us-east5
    cluster_location: us-east5-b
"""

RETURN = r"""
membership:
  description: The membership (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: projects/my-project/locations/global/memberships/gke-us-east5
    endpoint: {gke_cluster: {resource_link: //container.googleapis.com/projects/my-project/locations/us-east5-b/clusters/gke-us-east5}}
    state: {code: READY}
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import diff_result
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule, to_dict
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import name_error


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            cluster=dict(type="str"),
            cluster_location=dict(type="str"),
            location=dict(type="str", default="global"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        required_if=[("state", "present", ("cluster", "cluster_location"))],
        supports_check_mode=True,
    )
    p = module.params
    error = name_error("name", p["name"])
    if error:
        module.fail_json(msg=error)
    client = module.client("gkehub")
    parent = "projects/%s/locations/%s" % (module.project, p["location"])
    name = "%s/memberships/%s" % (parent, p["name"])
    found = module.get_or_none("read membership %s" % p["name"], client.get_membership, name=name)
    actual = to_dict(found) if found is not None else None

    if p["state"] == "absent":
        action = "delete membership %s" % p["name"]
        module.exit_absent(actual, lambda: module.wait_longrunning(
            module.call(action, client.delete_membership, name=name), "gkehub", action), "membership")

    link = "//container.googleapis.com/projects/%s/locations/%s/clusters/%s" % (module.project, p["cluster_location"], p["cluster"])
    desired = dict(endpoint=dict(gke_cluster=dict(resource_link=link)))
    if actual is None:
        if not module.check_mode:
            action = "register cluster %s as membership %s" % (p["cluster"], p["name"])
            op = module.call(action, client.create_membership, parent=parent, membership_id=p["name"], resource=desired)
            module.wait_longrunning(op, "gkehub", action)
            actual = to_dict(module.call("read membership %s" % p["name"], client.get_membership, name=name))
        module.exit_json(changed=True, membership=actual or desired, diff=diff_result({}, actual or desired))

    current = actual.get("endpoint", {}).get("gke_cluster", {}).get("resource_link", "")
    if current.replace("https:", "") != link:
        module.fail_json(msg="membership %s belongs to cluster %s, not %s. A membership cannot move: delete it "
                             "(state: absent) and register the new cluster, or use another name." % (p["name"], current, link))
    module.exit_json(changed=False, membership=actual, diff=diff_result(actual, actual))


if __name__ == "__main__":
    main()
