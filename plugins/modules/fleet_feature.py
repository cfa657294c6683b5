#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: fleet_feature
short_description: Enable a fleet feature such as multi-cluster services or multi-cluster ingress
version_added: 0.1.0
description:
  - Enables (creates) or disables (deletes) a GKE Hub feature of the project's fleet.
  - For V(multiclusteringress), O(config_membership) names the config cluster's membership; moving
    it to another membership updates the feature in place.
options:
  name:
    description: Feature id, for example V(multiclusterservicediscovery) or V(multiclusteringress).
    type: str
    required: true
  config_membership:
    description:
      - Membership id (or full name) of the config cluster. Only for V(multiclusteringress), where it is required.
    type: str
  state:
    description: Whether the feature should be enabled.
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
- name: Multi-cluster services
  gke_inference.multicluster.fleet_feature:
    project: my-project
    name: multiclusterservicediscovery

- name: Multi-cluster ingress with the US cluster as config cluster
  gke_inference.multicluster.fleet_feature:
    project: my-project
    name: multiclusteringress
    config_membership: gke-us-east5
"""

RETURN = r"""
feature:
  description: The feature (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: projects/my-project/locations/global/features/multiclusteringress
    spec: {multiclusteringress: {config_membership: projects/my-project/locations/global/memberships/gke-us-east5}}
    resource_state: {state: ACTIVE}
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import diff_result
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule, to_dict


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            config_membership=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        supports_check_mode=True,
    )
    p = module.params
    if p["state"] == "present" and p["name"] == "multiclusteringress" and not p["config_membership"]:
        module.fail_json(msg="config_membership: multiclusteringress needs the membership of its config cluster.")
    if p["config_membership"] and p["name"] != "multiclusteringress":
        module.fail_json(msg="config_membership: only multiclusteringress has a config membership; remove it.")
    client = module.client("gkehub")
    parent = "projects/%s/locations/global" % module.project
    name = "%s/features/%s" % (parent, p["name"])
    found = module.get_or_none("read feature %s" % p["name"], client.get_feature, name=name)
    actual = to_dict(found) if found is not None else None

    if p["state"] == "absent":
        action = "disable feature %s" % p["name"]
        module.exit_absent(actual, lambda: module.wait_longrunning(
            module.call(action, client.delete_feature, name=name), "gkehub", action), "feature")

    spec = {}
    if p["config_membership"]:
        membership = p["config_membership"]
        if "/" not in membership:
            membership = "%s/memberships/%s" % (parent, membership)
        spec = dict(multiclusteringress=dict(config_membership=membership))
    if actual is None:
        if not module.check_mode:
            action = "enable feature %s" % p["name"]
            op = module.call(action, client.create_feature, parent=parent, feature_id=p["name"], resource=dict(spec=spec))
            module.wait_longrunning(op, "gkehub", action)
            actual = to_dict(module.call("read feature %s" % p["name"], client.get_feature, name=name))
        module.exit_json(changed=True, feature=actual or dict(spec=spec), diff=diff_result({}, actual or dict(spec=spec)))

    have = actual.get("spec", {}).get("multiclusteringress", {}).get("config_membership", "")
    want = spec.get("multiclusteringress", {}).get("config_membership", "")
    changed = bool(want) and have.rsplit("/", 1)[-1] != want.rsplit("/", 1)[-1]
    after = dict(actual, spec=spec) if changed else actual
    if changed and not module.check_mode:
        action = "move the config membership of %s to %s" % (p["name"], want.rsplit("/", 1)[-1])
        op = module.call(action, client.update_feature, name=name, update_mask="spec", resource=dict(spec=spec))
        module.wait_longrunning(op, "gkehub", action)
        after = to_dict(module.call("read feature %s" % p["name"], client.get_feature, name=name))
    module.exit_json(changed=changed, feature=after, diff=diff_result(actual, after))


if __name__ == "__main__":
    main()
