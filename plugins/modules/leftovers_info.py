#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: leftovers_info
short_description: List which of the platform's Google Cloud resources still exist
version_added: 0.1.0
description:
  - Reads, never changes. Given the names the deployment uses, reports which still exist - and every
    firewall rule on the collection's network, including the ones GKE's controllers create on their own
    (multi-cluster service discovery C(*-mcsd), the gateway controller's C(k8s-fw-l7-*)), which block the
    network's deletion and are not removed with the gateway or the fleet.
  - Used by the teardown to find those firewall rules and, at the end, to list anything still present.
options:
  network:
    description: The collection's VPC network; its firewall rules are listed.
    type: str
  subnetworks:
    description: Subnetworks to look for.
    type: list
    elements: dict
    default: []
    suboptions:
      region:
        description: Region.
        type: str
        required: true
      name:
        description: Name.
        type: str
        required: true
  addresses:
    description: Regional addresses to look for.
    type: list
    elements: dict
    default: []
    suboptions:
      region:
        description: Region.
        type: str
        required: true
      name:
        description: Name.
        type: str
        required: true
  routers:
    description: Cloud Routers (with their Cloud NAT gateways) to look for.
    type: list
    elements: dict
    default: []
    suboptions:
      region:
        description: Region.
        type: str
        required: true
      name:
        description: Name.
        type: str
        required: true
  clusters:
    description: GKE clusters to look for.
    type: list
    elements: dict
    default: []
    suboptions:
      location:
        description: Zone or region.
        type: str
        required: true
      name:
        description: Name.
        type: str
        required: true
  memberships:
    description: Fleet memberships to look for (global).
    type: list
    elements: str
    default: []
  features:
    description: Fleet features to look for (global).
    type: list
    elements: str
    default: []
  buckets:
    description: Cloud Storage buckets to look for.
    type: list
    elements: str
    default: []
  owned_firewalls:
    description:
      - Which firewall rules on O(network) are the collection's - its own names, and the prefixes of the rules GKE's
        controllers create for its clusters (C(gke-CLUSTER-)) and gateways (C(k8s-fw-l7-)). When set, only those are
        RV(firewalls_ours) and listed in RV(present); the others are RV(firewalls_foreign), and the network, which
        cannot be deleted while they use it, is listed in RV(left) instead of RV(present).
    type: dict
    suboptions:
      names:
        description: Exact names.
        type: list
        elements: str
        default: []
      prefixes:
        description: Name prefixes.
        type: list
        elements: str
        default: []
  fleet_memberships:
    description:
      - The collection's fleet memberships. When set, RV(other_memberships) lists the project's other memberships,
        and RV(mci_config_membership) the config membership of the multi-cluster ingress feature.
    type: list
    elements: str
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - ansible.builtin.action_common_attributes
  - gke_inference.multicluster.attributes.info_module
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: What is left
  gke_inference.multicluster.leftovers_info:
    project: my-project
    network: tpu-gke-dranet-vpc
    clusters: [{location: us-east5-b, name: gke-us-east5}]
    memberships: [gke-us-east5]
    features: [multiclusteringress, multiclusterservicediscovery]
  register: leftovers
"""

RETURN = r"""
present:
  description: One line per resource that still exists, for example C(firewall k8s-fw-l7-abc on tpu-gke-dranet-vpc).
  returned: always
  type: list
  elements: str
firewalls:
  description: Names of the firewall rules on O(network).
  returned: always
  type: list
  elements: str
firewalls_ours:
  description: The rules of RV(firewalls) that O(owned_firewalls) says are the collection's (all of them without it).
  returned: always
  type: list
  elements: str
firewalls_foreign:
  description: The rules of RV(firewalls) that are not the collection's.
  returned: always
  type: list
  elements: str
left:
  description: What exists but is left on purpose, and why.
  returned: always
  type: list
  elements: str
other_memberships:
  description: Fleet memberships of the project that are not in O(fleet_memberships).
  returned: when O(fleet_memberships) is set
  type: list
  elements: str
mci_config_membership:
  description: The membership name the multi-cluster ingress feature's config points at (empty without the feature).
  returned: when O(fleet_memberships) is set
  type: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule


def main():
    named = dict(region=dict(type="str", required=True), name=dict(type="str", required=True))
    module = GcpModule(
        argument_spec=dict(
            network=dict(type="str"),
            subnetworks=dict(type="list", elements="dict", default=[], options=named),
            addresses=dict(type="list", elements="dict", default=[], options=named),
            routers=dict(type="list", elements="dict", default=[], options=named),
            clusters=dict(type="list", elements="dict", default=[], options=dict(
                location=dict(type="str", required=True), name=dict(type="str", required=True))),
            memberships=dict(type="list", elements="str", default=[]),
            features=dict(type="list", elements="str", default=[]),
            buckets=dict(type="list", elements="str", default=[]),
            owned_firewalls=dict(type="dict", options=dict(names=dict(type="list", elements="str", default=[]),
                                                           prefixes=dict(type="list", elements="str", default=[]))),
            fleet_memberships=dict(type="list", elements="str"),
        ),
        supports_check_mode=True,
    )
    p, project = module.params, module.project
    present, firewalls, left, extra = [], [], [], {}
    owned = p["owned_firewalls"]
    if p["network"]:
        listed = module.call("list the project's firewall rules", module.client("firewalls").list, project=project)
        firewalls = sorted(rule.name for rule in listed if rule.network.rstrip("/").endswith("/networks/" + p["network"]))
    ours = [name for name in firewalls if owned is None or name in owned["names"]
            or any(name.startswith(prefix) for prefix in owned["prefixes"])]
    foreign = [name for name in firewalls if name not in ours]
    present += ["firewall %s on %s" % (name, p["network"]) for name in ours]
    for item in p["addresses"]:
        if module.get_or_none("read address %s" % item["name"], module.client("addresses").get, project=project,
                              region=item["region"], address=item["name"]) is not None:
            present.append("address %s in %s" % (item["name"], item["region"]))
    for item in p["routers"]:
        if module.get_or_none("read router %s" % item["name"], module.client("routers").get, project=project,
                              region=item["region"], router=item["name"]) is not None:
            present.append("router %s in %s" % (item["name"], item["region"]))
    for item in p["subnetworks"]:
        if module.get_or_none("read subnetwork %s" % item["name"], module.client("subnetworks").get, project=project,
                              region=item["region"], subnetwork=item["name"]) is not None:
            present.append("subnetwork %s in %s" % (item["name"], item["region"]))
    if p["network"] and module.get_or_none("read network %s" % p["network"], module.client("networks").get,
                                           project=project, network=p["network"]) is not None:
        if foreign:
            left.append("network %s: kept, it carries firewall rules that are not the collection's (%s)"
                        % (p["network"], ", ".join(foreign)))
        else:
            present.append("network %s" % p["network"])
    for item in p["clusters"]:
        if module.get_or_none("read cluster %s" % item["name"], module.client("container").get_cluster,
                              name="projects/%s/locations/%s/clusters/%s" % (project, item["location"], item["name"])):
            present.append("cluster %s in %s" % (item["name"], item["location"]))
    for kind, names, getter in (("membership", p["memberships"], "get_membership"),
                                ("feature", p["features"], "get_feature")):
        for name in names:
            path = "projects/%s/locations/global/%ss/%s" % (project, kind, name)
            if module.get_or_none("read fleet %s %s" % (kind, name), getattr(module.client("gkehub"), getter),
                                  name=path) is not None:
                present.append("fleet %s %s" % (kind, name))
    for name in p["buckets"]:
        if module.get_or_none("read bucket %s" % name, module.client("storage").lookup_bucket, name) is not None:
            present.append("bucket %s" % name)
    if p["fleet_memberships"] is not None:
        hub, parent = module.client("gkehub"), "projects/%s/locations/global" % project
        listed = module.call("list the fleet's memberships", hub.list_memberships, parent=parent)
        names = [m.name.rsplit("/", 1)[-1] for m in listed]
        extra["other_memberships"] = sorted(n for n in names if n not in p["fleet_memberships"])
        feature = module.get_or_none("read fleet feature multiclusteringress", hub.get_feature,
                                     name=parent + "/features/multiclusteringress")
        config = feature.spec.multiclusteringress.config_membership if feature is not None else ""
        extra["mci_config_membership"] = config.rsplit("/", 1)[-1] if config else ""
    module.exit_json(changed=False, present=present, firewalls=firewalls, firewalls_ours=ours,
                     firewalls_foreign=foreign, left=left, **extra)


if __name__ == "__main__":
    main()
