#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: compute_firewall
short_description: Manage a VPC firewall rule
version_added: 0.1.0
description:
  - Creates, updates (patch) or deletes a firewall rule of a VPC network. The network and the
    direction of an existing rule cannot change.
options:
  name:
    description: Name of the rule.
    type: str
    required: true
  network:
    description: The VPC network (name, partial path or URL). Required with O(state=present).
    type: str
  direction:
    description: Traffic direction.
    type: str
    choices: [INGRESS, EGRESS]
    default: INGRESS
  priority:
    description: Priority, 0 (highest) to 65535.
    type: int
    default: 1000
  allowed:
    description: Allowed protocols and ports.
    type: list
    elements: dict
    suboptions:
      ip_protocol:
        description: V(tcp), V(udp), V(icmp), V(all), ...
        type: str
        required: true
        aliases: [protocol]
      ports:
        description: Ports or ranges, for example V(8000) or V(8000-8010).
        type: list
        elements: str
  source_ranges:
    description: Source IPv4 ranges of ingress traffic.
    type: list
    elements: str
  target_tags:
    description: Network tags of the instances the rule applies to (all instances when omitted).
    type: list
    elements: str
  description:
    description: Description of the rule.
    type: str
  disabled:
    description: Whether the rule is disabled.
    type: bool
    default: false
  state:
    description: Whether the rule should exist.
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
- name: Allow Google's health checkers to reach vLLM
  gke_inference.multicluster.compute_firewall:
    project: my-project
    name: tpu-gke-dranet-allow-hc
    network: tpu-gke-dranet-vpc
    allowed:
      - ip_protocol: tcp
        ports: ["8000"]
    source_ranges: [130.211.0.0/22, 35.191.0.0/16]
"""

RETURN = r"""
firewall:
  description: The rule as the API returns it (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: tpu-gke-dranet-allow-hc
    direction: INGRESS
    priority: 1000
    allowed: [{I_p_protocol: tcp, ports: ["8000"]}]
    source_ranges: [130.211.0.0/22, 35.191.0.0/16]
changes:
  description: The fields that differed from the desired state.
  returned: when the rule existed
  type: list
  elements: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.compute import (
    ComputeResource, compute_ref, network_ref)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import cidr_error, name_error

# compute_v1 spells the protocol field I_p_protocol (from the API's IPProtocol)
PROTOCOL = "I_p_protocol"


def normalize(resource):
    resource["network"] = compute_ref(resource.get("network"))
    return resource


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            network=dict(type="str"),
            direction=dict(type="str", choices=["INGRESS", "EGRESS"], default="INGRESS"),
            priority=dict(type="int", default=1000),
            allowed=dict(type="list", elements="dict", options=dict(
                ip_protocol=dict(type="str", required=True, aliases=["protocol"]),
                ports=dict(type="list", elements="str"))),
            source_ranges=dict(type="list", elements="str"),
            target_tags=dict(type="list", elements="str"),
            description=dict(type="str"),
            disabled=dict(type="bool", default=False),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=900,
        required_if=[("state", "present", ("network", "allowed"))],
        supports_check_mode=True,
    )
    p = module.params
    errors = [name_error("name", p["name"])]
    for index, cidr in enumerate(p["source_ranges"] or []):
        error = cidr_error("source_ranges[%d]" % index, cidr)
        if error and "too small" not in error:
            errors.append(error)
    if not 0 <= p["priority"] <= 65535:
        errors.append("priority: %s is out of range 0-65535." % p["priority"])
    errors = [e for e in errors if e]
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    from google.cloud import compute_v1

    allowed = None
    if p["allowed"] is not None:
        allowed = [dict((k, v) for k, v in ((PROTOCOL, rule["ip_protocol"].lower()), ("ports", rule["ports"])) if v)
                   for rule in p["allowed"]]
    desired = dict(
        name=p["name"], network=network_ref(module.project, p["network"]) if p["network"] else None,
        direction=p["direction"], priority=p["priority"], allowed=allowed, source_ranges=p["source_ranges"],
        target_tags=p["target_tags"], description=p["description"], disabled=p["disabled"],
    )
    resource = ComputeResource(module, "firewalls", "firewall", compute_v1.Firewall, p["name"], normalize=normalize)
    result = resource.ensure(p["state"], desired, patchable=(
        "priority", "allowed", "source_ranges", "target_tags", "description", "disabled"))
    result["firewall"] = result.pop("resource", {})
    module.exit_json(**result)


if __name__ == "__main__":
    main()
