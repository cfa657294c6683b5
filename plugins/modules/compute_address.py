#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compute_address
short_description: Reserve a static regional IP address (internal or external)
version_added: 0.1.0
description:
  - Reserves or releases a regional static address, for example the internal address of the
    cross-region Inference Gateway in each region.
  - Addresses cannot be changed in place; a different subnetwork, address or type fails with a
    message saying so.
options:
  name:
    description: Name of the address.
    type: str
    required: true
  region:
    description: Region of the address.
    type: str
    required: true
  address_type:
    description: V(INTERNAL) (from O(subnetwork)) or V(EXTERNAL).
    type: str
    choices: [INTERNAL, EXTERNAL]
    default: INTERNAL
  subnetwork:
    description: Subnetwork the internal address comes from (name, partial path or URL). Required for V(INTERNAL).
    type: str
  address:
    description: A specific IP to reserve; Google picks a free one when omitted.
    type: str
  purpose:
    description: Purpose of an internal address; V(GCE_ENDPOINT) suits a load balancer's forwarding rule.
    type: str
    choices: [GCE_ENDPOINT, SHARED_LOADBALANCER_VIP]
  description:
    description: Description (set at creation only).
    type: str
  state:
    description: Whether the address should be reserved.
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
- name: Internal address of the gateway in europe-west4
  gke_inference.multicluster.compute_address:
    project: my-project
    name: gemma-gateway-ip-europe-west4
    region: europe-west4
    subnetwork: tpu-gke-dranet-node-subnet
"""

RETURN = r"""
address:
  description: The address resource (snake_case keys); empty after release.
  returned: success
  type: dict
  sample:
    name: gemma-gateway-ip-europe-west4
    address: 10.0.1.2
    address_type: INTERNAL
    status: RESERVED
ip:
  description: The reserved IP address.
  returned: when the address exists
  type: str
  sample: 10.0.1.2
changes:
  description: The fields that differed from the desired state.
  returned: when the address existed
  type: list
  elements: str
"""

import ipaddress

from ansible_collections.gke_inference.multicluster.plugins.module_utils.compute import (
    ComputeResource, compute_ref, subnetwork_ref)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import name_error, region_error


def normalize(resource):
    resource["subnetwork"] = compute_ref(resource.get("subnetwork"))
    resource["network"] = compute_ref(resource.get("network"))
    return resource


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            region=dict(type="str", required=True),
            address_type=dict(type="str", choices=["INTERNAL", "EXTERNAL"], default="INTERNAL"),
            subnetwork=dict(type="str"),
            address=dict(type="str"),
            purpose=dict(type="str", choices=["GCE_ENDPOINT", "SHARED_LOADBALANCER_VIP"]),
            description=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        supports_check_mode=True,
    )
    p = module.params
    errors = [name_error("name", p["name"]), region_error("region", p["region"])]
    if p["state"] == "present" and p["address_type"] == "INTERNAL" and not p["subnetwork"]:
        errors.append("subnetwork: required for an INTERNAL address; name the subnetwork it is taken from.")
    if p["address"]:
        try:
            ipaddress.ip_address(u"%s" % p["address"])
        except ValueError:
            errors.append("address: '%s' is not an IP address." % p["address"])
    errors = [e for e in errors if e]
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    from google.cloud import compute_v1

    internal = p["address_type"] == "INTERNAL"
    desired = dict(
        name=p["name"], address_type=p["address_type"], address=p["address"], description=p["description"],
        subnetwork=subnetwork_ref(module.project, p["region"], p["subnetwork"]) if internal and p["subnetwork"] else None,
        purpose=p["purpose"] or ("GCE_ENDPOINT" if internal else None),
    )
    resource = ComputeResource(module, "addresses", "address", compute_v1.Address, p["name"], region=p["region"],
                               normalize=normalize)
    result = resource.ensure(p["state"], desired, immutable_hint="Release it (state: absent) and reserve it again; "
                                                                 "anything using the address must let go of it first.")
    result["address"] = result.pop("resource", {})
    if result["address"].get("address"):
        result["ip"] = result["address"]["address"]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
