#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compute_subnetwork
short_description: Manage a subnetwork, including GLOBAL_MANAGED_PROXY proxy-only subnets
version_added: 0.1.0
description:
  - Creates, updates or deletes a regional subnetwork of a VPC network.
  - Supports node subnets (O(purpose=PRIVATE)) and the proxy-only subnets that cross-region internal
    load balancers and the multi-cluster Inference Gateway need (O(purpose=GLOBAL_MANAGED_PROXY) with
    O(role=ACTIVE)).
  - O(ip_cidr_range) can only grow (expandIpCidrRange); O(private_ip_google_access),
    O(secondary_ip_ranges) and O(role) are updated in place; other fields cannot change.
options:
  name:
    description: Name of the subnetwork.
    type: str
    required: true
  region:
    description: Region of the subnetwork.
    type: str
    required: true
  network:
    description: The VPC network, by name, partial path or URL. Required with O(state=present).
    type: str
  ip_cidr_range:
    description: Primary IPv4 range, for example V(10.0.1.0/24). Required with O(state=present).
    type: str
  purpose:
    description: What the subnetwork is for.
    type: str
    choices: [PRIVATE, GLOBAL_MANAGED_PROXY, REGIONAL_MANAGED_PROXY]
    default: PRIVATE
  role:
    description:
      - V(ACTIVE) or V(BACKUP); required by Google for proxy-only subnets. Defaults to V(ACTIVE) for
        proxy-only purposes and is not set otherwise.
    type: str
    choices: [ACTIVE, BACKUP]
  private_ip_google_access:
    description: Let VMs without external addresses reach Google APIs. Not used for proxy-only subnets.
    type: bool
  secondary_ip_ranges:
    description:
      - Secondary ranges (for example for Pods and Services of a VPC-native cluster).
      - Not managed when omitted, so ranges GKE creates itself are left alone.
    type: list
    elements: dict
    suboptions:
      range_name:
        description: Name of the range.
        type: str
        required: true
      ip_cidr_range:
        description: The range.
        type: str
        required: true
  description:
    description: Description (set at creation only).
    type: str
  state:
    description: Whether the subnetwork should exist.
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
- name: Node subnet of a region
  gke_inference.multicluster.compute_subnetwork:
    project: my-project
    name: tpu-gke-dranet-node-subnet
    region: europe-west4
    network: tpu-gke-dranet-vpc
    ip_cidr_range: 10.0.1.0/24

- name: Proxy-only subnet for the cross-region internal gateway
  gke_inference.multicluster.compute_subnetwork:
    project: my-project
    name: tpu-gke-dranet-proxy-subnet-europe-west4
    region: europe-west4
    network: tpu-gke-dranet-vpc
    ip_cidr_range: 10.1.1.0/24
    purpose: GLOBAL_MANAGED_PROXY
    role: ACTIVE
"""

RETURN = r"""
subnetwork:
  description: The subnetwork as the API returns it (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: tpu-gke-dranet-proxy-subnet-europe-west4
    ip_cidr_range: 10.1.1.0/24
    purpose: GLOBAL_MANAGED_PROXY
    role: ACTIVE
    gateway_address: 10.1.1.1
changes:
  description: The fields that differed from the desired state.
  returned: when the subnetwork existed
  type: list
  elements: str
"""

import ipaddress

from ansible_collections.gke_inference.multicluster.plugins.module_utils.compute import (
    ComputeResource, compute_ref, network_ref)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import (
    cidr_error, name_error, region_error)

PROXY_PURPOSES = ("GLOBAL_MANAGED_PROXY", "REGIONAL_MANAGED_PROXY")


def normalize(resource):
    resource["network"] = compute_ref(resource.get("network"))
    return resource


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            region=dict(type="str", required=True),
            network=dict(type="str"),
            ip_cidr_range=dict(type="str"),
            purpose=dict(type="str", choices=["PRIVATE"] + list(PROXY_PURPOSES), default="PRIVATE"),
            role=dict(type="str", choices=["ACTIVE", "BACKUP"]),
            private_ip_google_access=dict(type="bool"),
            secondary_ip_ranges=dict(type="list", elements="dict", options=dict(
                range_name=dict(type="str", required=True), ip_cidr_range=dict(type="str", required=True))),
            description=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        required_if=[("state", "present", ("network", "ip_cidr_range"))],
        supports_check_mode=True,
    )
    p = module.params
    errors = [name_error("name", p["name"]), region_error("region", p["region"])]
    if p["state"] == "present":
        errors.append(cidr_error("ip_cidr_range", p["ip_cidr_range"]))
        for index, rng in enumerate(p["secondary_ip_ranges"] or []):
            errors.append(cidr_error("secondary_ip_ranges[%d].ip_cidr_range" % index, rng["ip_cidr_range"]))
        if p["purpose"] in PROXY_PURPOSES and p["private_ip_google_access"]:
            errors.append("private_ip_google_access: not supported on a %s subnet; leave it unset." % p["purpose"])
        if p["purpose"] == "PRIVATE" and p["role"]:
            errors.append("role: only proxy-only subnets (purpose GLOBAL_MANAGED_PROXY or REGIONAL_MANAGED_PROXY) "
                          "have a role; remove it.")
    errors = [e for e in errors if e]
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    from google.cloud import compute_v1

    role = p["role"] or ("ACTIVE" if p["purpose"] in PROXY_PURPOSES else None)
    desired = dict(
        name=p["name"], network=network_ref(module.project, p["network"]) if p["network"] else None,
        ip_cidr_range=p["ip_cidr_range"], purpose=p["purpose"], role=role,
        private_ip_google_access=p["private_ip_google_access"], description=p["description"],
        secondary_ip_ranges=p["secondary_ip_ranges"],
    )
    resource = ComputeResource(module, "subnetworks", "subnetwork", compute_v1.Subnetwork, p["name"],
                               region=p["region"], normalize=normalize)

    def update(actual, changes, dry_run):
        handled = []
        if "ip_cidr_range" in changes:
            old = ipaddress.ip_network(actual["ip_cidr_range"])
            new = ipaddress.ip_network(p["ip_cidr_range"])
            if not (new.prefixlen < old.prefixlen and old.subnet_of(new)):
                module.fail_json(msg="ip_cidr_range: %s cannot replace %s on subnetwork %s; a range can only be expanded "
                                     "to a larger range that contains it. Delete and re-create the subnetwork to "
                                     "shrink or move it." % (new, old, p["name"]))
            if not dry_run:
                resource.custom("expand the range of", "expand_ip_cidr_range_unary",
                                subnetworks_expand_ip_cidr_range_request_resource=dict(ip_cidr_range=str(new)))
            handled.append("ip_cidr_range")
        if "private_ip_google_access" in changes:
            if not dry_run:
                resource.custom("set private Google access on", "set_private_ip_google_access_unary",
                                subnetworks_set_private_ip_google_access_request_resource=dict(
                                    private_ip_google_access=p["private_ip_google_access"]))
            handled.append("private_ip_google_access")
        return handled

    result = resource.ensure(p["state"], desired, patchable=("secondary_ip_ranges", "role"), update=update)
    result["subnetwork"] = result.pop("resource", {})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
