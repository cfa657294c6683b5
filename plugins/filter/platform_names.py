# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: model_bucket
short_description: The bucket of the model weights
version_added: 0.1.1
description:
  - The bucket the storage, model cache and workload roles and the preflight use - C(gke_model_bucket) when set,
    else C(<project>-gemma-weights). Defined once (C(plugins/module_utils/names.py)).
positional: _input, override
options:
  _input:
    description: The project id.
    type: str
    required: true
  override:
    description: The bucket name the inventory sets (C(gke_model_bucket)); empty for the default.
    type: str
    default: ''
"""

EXAMPLES = r"""
- name: The bucket
  ansible.builtin.debug:
    msg: "{{ gcp_project_id | gke_inference.multicluster.model_bucket(gke_model_bucket | default('')) }}"
"""

RETURN = r"""
_value:
  description: The bucket name.
  type: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils import names


def gateway_addresses(hosts, exclude=None):
    """[{region, name}] of the gateway's reserved address in each region of ``hosts`` (hostvars dicts), in order,
    once per region: a region host's network_gateway_address_name when the inventory sets it, else the default."""
    out, seen = [], set()
    for host in hosts:
        if host.get("inventory_hostname") in (exclude or []):
            continue
        region = host.get("gcp_region")
        if not region or region in seen:
            continue
        seen.add(region)
        out.append({"region": region,
                    "name": host.get("network_gateway_address_name") or names.gateway_address_name(region)})
    return out


def workload_principal(project_info, namespace, ksa):
    """The Workload Identity principal of a Kubernetes service account, from project_info's result."""
    return names.workload_principal(project_info["project_number"], project_info["workload_pool"], namespace, ksa)


class FilterModule(object):
    def filters(self):
        return {"model_bucket": names.model_bucket, "download_marker": names.download_marker, "model_dir": names.model_dir,
                "gateway_address_name": names.gateway_address_name, "gateway_addresses": gateway_addresses,
                "workload_principal": workload_principal}
