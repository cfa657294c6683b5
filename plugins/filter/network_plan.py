# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: network_plan_errors
short_description: Every problem in the inventory's network plan, in one list
version_added: 0.1.0
description:
  - Checks the per-region network plan of all region hosts at once, before anything is created -
    project id, region and zone names, zones inside their regions, valid CIDRs, and node and
    proxy-only ranges that overlap within a region or across regions, and the names of what the network role
    creates (valid resource names, at most 63 characters).
  - Returns an empty list when the plan is sound.
positional: _input
options:
  _input:
    description:
      - One dict per region host with C(host), C(project), C(region), C(zone), C(node_cidr) and C(proxy_cidr), and
        optionally C(names), the resource names by the variable that sets them.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Stop on any problem in the plan
  ansible.builtin.assert:
    that: plan_errors | length == 0
    fail_msg: "{{ plan_errors | join(' ') }}"
  vars:
    plan_errors: "{{ plans | gke_inference.multicluster.network_plan_errors }}"
"""

RETURN = r"""
_value:
  description: Messages, each naming the host and the variable to fix.
  type: list
  elements: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import (
    cidr_error, name_error, overlaps, project_error, region_error, zone_error)


def network_plan_errors(plans):
    errors = []
    regions = {}
    ranges = []
    for plan in plans:
        host = plan.get("host", "?")
        prefix = "%s: " % host
        for error in (project_error("gcp_project_id", plan.get("project")),
                      region_error("gcp_region", plan.get("region")),
                      zone_error("gcp_zone", plan.get("zone"), plan.get("region")),
                      cidr_error("network_node_subnet_cidr", plan.get("node_cidr")),
                      cidr_error("network_proxy_subnet_cidr", plan.get("proxy_cidr"))):
            if error:
                errors.append(prefix + error)
        for variable, name in sorted((plan.get("names") or {}).items()):
            error = name_error(variable, name)
            if error:
                errors.append(prefix + error + (" Shorten network_prefix, or set %s." % variable
                                                if variable != "network_gateway_address_name" else ""))
        if plan.get("region") in regions:
            errors.append("%sgcp_region: region %s is also used by %s; use one host (one cluster) per region."
                          % (prefix, plan["region"], regions[plan["region"]]))
        regions.setdefault(plan.get("region"), host)
        ranges.append(("%s network_node_subnet_cidr" % host, plan.get("node_cidr")))
        ranges.append(("%s network_proxy_subnet_cidr" % host, plan.get("proxy_cidr")))
    errors.extend(overlaps(ranges))
    return errors


class FilterModule(object):
    def filters(self):
        return {"network_plan_errors": network_plan_errors}
