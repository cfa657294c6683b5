#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compute_network
short_description: Manage a custom-mode VPC network
version_added: 0.1.0
description:
  - Creates, updates or deletes a Compute Engine VPC network in custom subnet mode.
  - Only the routing mode can change on an existing network; a different O(mtu) fails with a
    message, because Google does not change the MTU of an existing network.
options:
  name:
    description: Name of the network.
    type: str
    required: true
  mtu:
    description: Maximum transmission unit in bytes (1300 to 8896). The TPU/DRANET design uses V(8896).
    type: int
    default: 1460
  routing_mode:
    description: Dynamic routing mode of the network's Cloud Routers.
    type: str
    choices: [REGIONAL, GLOBAL]
    default: REGIONAL
  description:
    description: Description of the network (set at creation only).
    type: str
  state:
    description: Whether the network should exist.
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
- name: Create the VPC of the inference platform
  gke_inference.multicluster.compute_network:
    project: my-project
    name: tpu-gke-dranet-vpc
    mtu: 8896

- name: Delete it
  gke_inference.multicluster.compute_network:
    project: my-project
    name: tpu-gke-dranet-vpc
    state: absent
"""

RETURN = r"""
network:
  description: The network as the API returns it (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: tpu-gke-dranet-vpc
    mtu: 8896
    auto_create_subnetworks: false
    routing_config: {routing_mode: REGIONAL}
    self_link: https://www.googleapis.com/compute/v1/projects/my-project/global/networks/tpu-gke-dranet-vpc
changes:
  description: The fields that differed from the desired state.
  returned: when the network existed
  type: list
  elements: str
  sample: [routing_config.routing_mode]
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.compute import ComputeResource
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import name_error


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            mtu=dict(type="int", default=1460),
            routing_mode=dict(type="str", choices=["REGIONAL", "GLOBAL"], default="REGIONAL"),
            description=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        supports_check_mode=True,
    )
    p = module.params
    error = name_error("name", p["name"])
    if error:
        module.fail_json(msg=error)
    if not 1300 <= p["mtu"] <= 8896:
        module.fail_json(msg="mtu: %s is out of range; use a value from 1300 to 8896 (8896 for TPU/DRANET)." % p["mtu"])

    from google.cloud import compute_v1

    resource = ComputeResource(module, "networks", "network", compute_v1.Network, p["name"])
    desired = dict(name=p["name"], auto_create_subnetworks=False, mtu=p["mtu"],
                   routing_config=dict(routing_mode=p["routing_mode"]), description=p["description"])
    result = resource.ensure(p["state"], desired, patchable=("routing_config",),
                             immutable_hint="Create a new network with the MTU you need and move the subnets to it.")
    result["network"] = result.pop("resource", {})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
