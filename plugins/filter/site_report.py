# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: site_report
short_description: What site.yml built, per region, as one machine-readable report
version_added: 0.1.1
description:
  - Takes the variables of the region hosts of a C(site.yml) run (C(hostvars) of each) and returns, per region, the
    resources the run ensured, their versions and how long the region took; the playbook writes it as
    C(reports/site-*.json) and hands it on as the job's artifact.
  - A phase that did not run (C(--tags), a failed region) shows as null, not as made-up values.
positional: _input
options:
  _input:
    description: The hosts' variables, one dict per region host.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: The run's report
  ansible.builtin.copy:
    content: "{{ ansible_play_hosts_all | map('extract', hostvars) | list | gke_inference.multicluster.site_report | to_nice_json }}"
    dest: reports/site.json
    mode: "0644"
"""

RETURN = r"""
_value:
  description:
    - C(regions), keyed by region - host, zone, network (subnets, gateway address), cluster (name, location, GKE
      version, status), node pool (name, machine type, shape, and the labels its pods select), model weights
      (location, complete), workload (deployment, pool, image, model), verification summary, and timings (seconds
      for the cluster, the node pool and the region); C(gateway) (name, programmed, addresses) from the config
      cluster's host; C(project).
  type: dict
"""


def _pool(node_pool):
    pool = (node_pool or {}).get("node_pool") or {}
    config = pool.get("config") or {}
    if not pool:
        return None
    return {"name": pool.get("name"), "machine_type": config.get("machine_type"),
            "node_count": pool.get("initial_node_count"), "status": pool.get("status"),
            "placement": (pool.get("placement_policy") or {}).get("tpu_topology"),
            "accelerators": config.get("accelerators") or None}


def site_report(hosts):
    regions, gateway, project = {}, None, None
    for host in hosts:
        project = project or host.get("gcp_project_id")
        workload = host.get("workload_result")
        regions[host.get("gcp_region")] = {
            "host": host.get("inventory_hostname"), "zone": host.get("gcp_zone"),
            "network": {"node_subnet": host.get("network_node_subnet_cidr"),
                        "proxy_subnet": host.get("network_proxy_subnet_cidr"),
                        "gateway_address": host.get("network_gateway_ip") or None},
            "cluster": host.get("clusters_result"),
            "node_pool": _pool(host.get("clusters_node_pool")),
            "node_labels": host.get("clusters_node_labels"),
            "model_weights": host.get("model_cache_result"),
            "workload": workload,
            "verified": host.get("verify_summary"),
            "timings": host.get("clusters_timings"),
            "config_cluster": bool(host.get("fleet_is_config_cluster")),
        }
        if host.get("gateway_result"):
            gateway = host["gateway_result"]
    return {"project": project, "regions": regions, "gateway": gateway}


class FilterModule(object):
    def filters(self):
        return {"site_report": site_report}
