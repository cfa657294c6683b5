#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compute_router
short_description: A Cloud Router with a Cloud NAT gateway, the internet egress of private GKE nodes
version_added: 0.1.1
description:
  - Creates, updates or deletes a regional Cloud Router on a VPC network with one Cloud NAT gateway (public NAT,
    addresses allocated by Google).
  - Nodes with private IP addresses only (C(private_nodes) of M(gke_inference.multicluster.gke_cluster)) reach
    the internet (Hugging Face, Docker Hub) only through a Cloud NAT gateway in their subnet's region; Google
    APIs they reach through Private Google Access.
  - The NAT's name and the ranges it serves are changed in place (a patch of the router); the network cannot be.
  - Only the NAT's name, address allocation and source ranges are managed; settings Google fills in on the NAT
    (port allocation, timeouts, logging) are left as they are until the NAT is changed.
options:
  name:
    description: Name of the router.
    type: str
    required: true
  region:
    description: Region of the router (the region of the subnets it serves).
    type: str
    required: true
  network:
    description: VPC network name (or its path). Required to create.
    type: str
  nat:
    description: The router's Cloud NAT gateway.
    type: dict
    default: {}
    suboptions:
      name:
        description: Name of the NAT gateway; O(name) followed by C(-nat) when not set.
        type: str
      source_ranges:
        description: Which ranges of the region's subnets are translated.
        type: str
        choices: [ALL_SUBNETWORKS_ALL_IP_RANGES, ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES]
        default: ALL_SUBNETWORKS_ALL_IP_RANGES
  state:
    description: Whether the router (and its NAT) should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
  - gke_inference.multicluster.gcp.OPERATION
seealso:
  - name: Cloud NAT overview
    description: Cloud NAT gateways serve the subnets of their region.
    link: https://cloud.google.com/nat/docs/overview
  - name: About network isolation in GKE
    description: Private nodes, the control plane's endpoints and authorized networks.
    link: https://cloud.google.com/kubernetes-engine/docs/concepts/network-isolation
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Internet egress for the private nodes of us-east5
  gke_inference.multicluster.compute_router:
    project: my-project
    name: tpu-gke-dranet-vpc-nat-us-east5
    region: us-east5
    network: tpu-gke-dranet-vpc
"""

RETURN = r"""
router:
  description: The router (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: tpu-gke-dranet-vpc-nat-us-east5
    nats: [{name: tpu-gke-dranet-vpc-nat-us-east5-nat, nat_ip_allocate_option: AUTO_ONLY,
            source_subnetwork_ip_ranges_to_nat: ALL_SUBNETWORKS_ALL_IP_RANGES}]
changes:
  description: The fields that differed from the desired state.
  returned: when the router existed
  type: list
  elements: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.compute import (
    ComputeResource, compute_ref, network_ref)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import name_error, region_error

# the NAT fields the module manages (the rest are Google's defaults, not compared)
NAT_FIELDS = ("name", "nat_ip_allocate_option", "source_subnetwork_ip_ranges_to_nat")


def normalize(resource):
    resource["network"] = compute_ref(resource.get("network"))
    resource["nats"] = [dict((k, nat.get(k)) for k in NAT_FIELDS) for nat in resource.get("nats") or []]
    return resource


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            region=dict(type="str", required=True),
            network=dict(type="str"),
            nat=dict(type="dict", default={}, options=dict(
                name=dict(type="str"),
                source_ranges=dict(type="str", default="ALL_SUBNETWORKS_ALL_IP_RANGES",
                                   choices=["ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"]))),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        required_if=[("state", "present", ("network",))],
        supports_check_mode=True,
    )
    p = module.params
    nat_name = p["nat"]["name"] or "%s-nat" % p["name"]
    errors = [name_error("name", p["name"]), region_error("region", p["region"]), name_error("nat.name", nat_name)]
    errors = [e for e in errors if e]
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    from google.cloud import compute_v1

    desired = dict(
        name=p["name"], network=network_ref(module.project, p["network"]) if p["network"] else None,
        nats=[dict(name=nat_name, nat_ip_allocate_option="AUTO_ONLY",
                   source_subnetwork_ip_ranges_to_nat=p["nat"]["source_ranges"])],
    )
    resource = ComputeResource(module, "routers", "router", compute_v1.Router, p["name"], region=p["region"],
                               normalize=normalize)
    result = resource.ensure(p["state"], desired, patchable=("nats",),
                             immutable_hint="Delete the router (state: absent) and create it on the other network.")
    result["router"] = result.pop("resource", {})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
