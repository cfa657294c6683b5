#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gke_cluster
short_description: Manage a GKE Standard cluster for multi-cluster inference
version_added: 0.1.0
description:
  - Creates, updates or deletes a GKE Standard cluster (zonal or regional) with what the
    multi-cluster Inference Gateway needs, as the codelab sets it - VPC-native on the given
    network and subnetwork, Dataplane V2, Gateway API standard channel, the GCS FUSE CSI driver,
    Workload Identity, managed Prometheus with system and DCGM metrics, the PERFORMANCE HPA profile,
    and a default node pool with C(GKE_METADATA).
  - A change to a mutable setting goes through its own update call (GKE applies one update per
    call); a change to an immutable one (network, subnetwork, datapath, default node pool) fails
    with a message naming it.
options:
  name:
    description: Cluster name.
    type: str
    required: true
  location:
    description: Zone (zonal cluster) or region (regional cluster).
    type: str
    required: true
  network:
    description: VPC network name. Required to create.
    type: str
  subnetwork:
    description: Subnetwork name (in the cluster's region). Required to create.
    type: str
  release_channel:
    description: Release channel. Multi-cluster Inference Gateway needs GKE 1.34.1-gke.1127000 or later.
    type: str
    choices: [RAPID, REGULAR, STABLE, EXTENDED]
    default: RAPID
  datapath_provider:
    description: Dataplane; V(ADVANCED_DATAPATH) is Dataplane V2.
    type: str
    choices: [ADVANCED_DATAPATH, LEGACY_DATAPATH]
    default: ADVANCED_DATAPATH
  gateway_api_channel:
    description: Gateway API channel.
    type: str
    choices: [CHANNEL_STANDARD, CHANNEL_DISABLED]
    default: CHANNEL_STANDARD
  gcs_fuse_csi_driver:
    description: Enable the Cloud Storage FUSE CSI driver.
    type: bool
    default: true
  workload_identity:
    description: Enable Workload Identity (pool C(PROJECT.svc.id.goog)).
    type: bool
    default: true
  managed_prometheus:
    description: Enable Google Cloud Managed Service for Prometheus.
    type: bool
    default: true
  monitoring_components:
    description: Monitoring components (V(DCGM) exports GPU metrics).
    type: list
    elements: str
    default: [SYSTEM_COMPONENTS, DCGM]
  hpa_profile:
    description: Horizontal Pod Autoscaler profile.
    type: str
    choices: [PERFORMANCE, NONE]
    default: PERFORMANCE
  initial_node_count:
    description: Nodes of the default node pool (at creation).
    type: int
    default: 1
  machine_type:
    description: Machine type of the default node pool (at creation).
    type: str
    default: e2-standard-16
  resource_labels:
    description:
      - Labels on the cluster (GKE's resource labels; they also reach the cluster's Compute Engine resources and the
        billing export), for example an organization's C(team) and C(cost-center). Keys and values of at most 63
        lower-case letters, digits, underscores and dashes, keys starting with a letter.
      - Not managed when omitted; when given, they replace the cluster's labels (C(setResourceLabels), guarded by the
        label fingerprint read just before).
    type: dict
  maintenance_window:
    description:
      - Start of the daily maintenance window, V(HH:MM) in UTC (GKE makes it 4 hours long); GKE picks a time when
        omitted. Changed in place (C(setMaintenancePolicy)).
    type: str
  private_nodes:
    description:
      - Give the cluster's nodes internal IP addresses only (C(networkConfig.defaultEnablePrivateNodes)), as GKE's
        network isolation guidance recommends. Not managed when omitted.
      - Such nodes reach the internet (the Hugging Face download, images on Docker Hub) only through a Cloud NAT
        gateway of their region (M(gke_inference.multicluster.compute_router)); Google APIs through Private Google
        Access.
      - GKE applies a changed value to node pools created afterwards; existing pools keep their addresses until
        they are re-created.
    type: bool
  authorized_networks:
    description:
      - The only networks the control plane's IP endpoint accepts connections from
        (C(controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig)); the machine that runs
        Ansible must be in one of them. An empty list turns the restriction off. Not managed when omitted.
      - At most 100 CIDR blocks. Changed in place.
    type: list
    elements: dict
    suboptions:
      cidr_block:
        description: An IPv4 or IPv6 range in CIDR notation, for example V(203.0.113.0/24).
        type: str
        required: true
      display_name:
        description: A name for people to recognize the range by.
        type: str
  service_account:
    description:
      - Email of the service account the default node pool's nodes run as (at creation). Unset, GKE uses the
        Compute Engine default service account; the clusters role passes its dedicated least-privilege account.
    type: str
  state:
    description: Whether the cluster should exist.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait for each operation (creation takes 5 to 15 minutes).
    type: int
    default: 2700
  wait:
    description:
      - Whether to wait for a creation. With C(false), a cluster that does not exist is created and the module
        returns as soon as GKE has accepted the creation (RV(pending) true, status C(PROVISIONING)); a cluster
        that an earlier call or run left C(PROVISIONING) or C(RECONCILING) is returned as it is, not compared.
        Run the module again with C(true) (same options) to wait for that operation and converge what it
        created, so that other work (the network's gateway pieces in C(site.yml)) goes on while GKE creates
        the cluster. A cluster that exists and is not in transition is compared and updated as with C(true).
      - A creation that fails (a stockout or quota of the default node pool) is reported by the call that waits.
    type: bool
    default: true
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: The europe-west4 cluster of the codelab
  gke_inference.multicluster.gke_cluster:
    project: my-project
    name: gke-europe-west4
    location: europe-west4-a
    network: tpu-gke-dranet-vpc
    subnetwork: tpu-gke-dranet-node-subnet

- name: Start creating the cluster, do other work, then wait for it
  gke_inference.multicluster.gke_cluster:
    project: my-project
    name: gke-europe-west4
    location: europe-west4-a
    network: tpu-gke-dranet-vpc
    subnetwork: tpu-gke-dranet-node-subnet
    wait: false
  register: started

- name: The same cluster, waited for (only when the first call left it in transition)
  gke_inference.multicluster.gke_cluster:
    project: my-project
    name: gke-europe-west4
    location: europe-west4-a
    network: tpu-gke-dranet-vpc
    subnetwork: tpu-gke-dranet-node-subnet
  when: started.pending
"""

RETURN = r"""
cluster:
  description: The cluster (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: gke-europe-west4
    status: RUNNING
    endpoint: 203.0.113.10
    release_channel: {channel: RAPID}
changes:
  description: The settings that differed from the desired state.
  returned: when the cluster existed and was compared
  type: list
  elements: str
pending:
  description:
    - True when the cluster is still being created or reconciled and the module did not wait for it (O(wait)
      false); run the module again with O(wait) true to wait for it.
  returned: when O(state) is present
  type: bool
"""

import ipaddress
import re

from ansible_collections.gke_inference.multicluster.plugins.module_utils.container import TRANSITIONAL, Gke, cluster_path, location_of
from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import compare, diff_result, merged
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import label_errors, name_error

TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

# top-level cluster field (as compared) -> the ClusterUpdate field that changes it
UPDATES = (
    ("network_config.gateway_api_config", "desired_gateway_api_config"),
    ("addons_config", "desired_addons_config"),
    ("monitoring_config", "desired_monitoring_config"),
    ("release_channel", "desired_release_channel"),
    ("workload_identity_config", "desired_workload_identity_config"),
    ("pod_autoscaling", "desired_pod_autoscaling"),
    ("network_config.default_enable_private_nodes", "desired_default_enable_private_nodes"),
    ("control_plane_endpoints_config", "desired_control_plane_endpoints_config"),
)
AUTHORIZED = "control_plane_endpoints_config.ip_endpoints_config.authorized_networks_config"
MAX_AUTHORIZED_NETWORKS = 100  # "Customize your network isolation" (GKE documentation), Control plane


def desired_cluster(module):
    p = module.params
    desired = dict(
        name=p["name"], network=p["network"], subnetwork=p["subnetwork"],
        release_channel=dict(channel=p["release_channel"]),
        network_config=dict(datapath_provider=p["datapath_provider"],
                            gateway_api_config=dict(channel=p["gateway_api_channel"])),
        addons_config=dict(gcs_fuse_csi_driver_config=dict(enabled=p["gcs_fuse_csi_driver"])),
        workload_identity_config=dict(workload_pool="%s.svc.id.goog" % module.project) if p["workload_identity"] else None,
        monitoring_config=dict(component_config=dict(enable_components=p["monitoring_components"]),
                               managed_prometheus_config=dict(enabled=p["managed_prometheus"])),
        pod_autoscaling=dict(hpa_profile=p["hpa_profile"]),
        ip_allocation_policy=dict(use_ip_aliases=True),
    )
    if p["private_nodes"] is not None:
        desired["network_config"]["default_enable_private_nodes"] = p["private_nodes"]
    if p["authorized_networks"] is not None:
        blocks = [dict((k, v) for k, v in block.items() if v is not None) for block in p["authorized_networks"]]
        desired["control_plane_endpoints_config"] = dict(ip_endpoints_config=dict(authorized_networks_config=dict(
            enabled=bool(blocks), cidr_blocks=blocks)))
    return desired


def unset_is_off(changes, actual):
    """Drop the changes that only turn off what was never on: an unset private-nodes default and an absent
    authorized-networks restriction are what False and [] ask for."""
    for field in list(changes):
        have, want = changes[field]
        if field == "network_config.default_enable_private_nodes" and not want and not have:
            changes.pop(field)
        elif field.startswith(AUTHORIZED + ".") and want in (False, []) and \
                not (get_path(actual, AUTHORIZED) or {}).get("enabled"):
            changes.pop(field)
    return changes


def get_path(value, path):
    """The value at a dotted ``path`` of nested dicts, or None."""
    for part in path.split("."):
        value = (value or {}).get(part) if isinstance(value, dict) else None
    return value


def authorized_errors(blocks):
    errors = []
    if blocks is not None and len(blocks) > MAX_AUTHORIZED_NETWORKS:
        errors.append("authorized_networks: %d ranges; GKE allows at most %d." % (len(blocks), MAX_AUTHORIZED_NETWORKS))
    for index, block in enumerate(blocks or []):
        try:
            ipaddress.ip_network(u"%s" % block["cidr_block"])
        except ValueError:
            errors.append("authorized_networks[%d].cidr_block: '%s' is not a range in CIDR notation (for example "
                          "203.0.113.0/24, with no host bits set)." % (index, block["cidr_block"]))
    return errors


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            location=dict(type="str", required=True),
            network=dict(type="str"),
            subnetwork=dict(type="str"),
            release_channel=dict(type="str", choices=["RAPID", "REGULAR", "STABLE", "EXTENDED"], default="RAPID"),
            datapath_provider=dict(type="str", choices=["ADVANCED_DATAPATH", "LEGACY_DATAPATH"], default="ADVANCED_DATAPATH"),
            gateway_api_channel=dict(type="str", choices=["CHANNEL_STANDARD", "CHANNEL_DISABLED"], default="CHANNEL_STANDARD"),
            gcs_fuse_csi_driver=dict(type="bool", default=True),
            workload_identity=dict(type="bool", default=True),
            managed_prometheus=dict(type="bool", default=True),
            monitoring_components=dict(type="list", elements="str", default=["SYSTEM_COMPONENTS", "DCGM"]),
            hpa_profile=dict(type="str", choices=["PERFORMANCE", "NONE"], default="PERFORMANCE"),
            initial_node_count=dict(type="int", default=1),
            machine_type=dict(type="str", default="e2-standard-16"),
            service_account=dict(type="str"),
            private_nodes=dict(type="bool"),
            authorized_networks=dict(type="list", elements="dict", options=dict(
                cidr_block=dict(type="str", required=True), display_name=dict(type="str"))),
            resource_labels=dict(type="dict"),
            maintenance_window=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            wait=dict(type="bool", default=True),
        ),
        timeout=2700,
        required_if=[("state", "present", ("network", "subnetwork"))],
        supports_check_mode=True,
    )
    p = module.params
    error = name_error("name", p["name"]) or (
        "name: '%s' is longer than the 40 characters GKE allows." % p["name"] if len(p["name"]) > 40 else None)
    errors = ([error] if error else []) + label_errors("resource_labels", p["resource_labels"])
    if p["maintenance_window"] is not None and not TIME_RE.match(p["maintenance_window"]):
        errors.append("maintenance_window: '%s' is not a time of day as HH:MM (UTC), for example 03:00."
                      % p["maintenance_window"])
    errors += authorized_errors(p["authorized_networks"])
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)
    gke = Gke(module, p["location"])
    path = cluster_path(module.project, p["location"], p["name"])
    actual = gke.read_cluster(p["name"])
    creating = "create cluster %s in %s" % (p["name"], p["location"])
    if actual is not None and p["state"] == "present" and not p["wait"] and actual.get("status") in TRANSITIONAL:
        module.exit_json(changed=False, pending=not module.check_mode, cluster=actual)
    if actual is not None:  # an earlier call or run may have left GKE still creating it
        actual = gke.settle(lambda: gke.read_cluster(p["name"]), "clusters/%s" % p["name"], creating)

    if p["state"] == "absent":
        module.exit_absent(actual, lambda: gke.run("delete cluster %s" % p["name"], "delete_cluster", name=path), "cluster")

    if actual is not None and actual.get("status") == "ERROR":
        reason = "; ".join(c.get("message") or c.get("code") or "" for c in actual.get("conditions") or [])
        module.fail_json(msg="Cluster %s in %s is in ERROR (%s): it cannot be brought to the wanted state in place. "
                             "Delete it (state absent, or playbooks/teardown.yml) and run again."
                         % (p["name"], p["location"], reason or actual.get("status_message") or "GKE gave no reason"),
                         cluster=actual)

    desired = desired_cluster(module)
    if actual is None:
        pending = False
        if not module.check_mode:
            body = dict(desired, node_pools=[dict(
                name="default-pool", initial_node_count=p["initial_node_count"],
                config=dict(machine_type=p["machine_type"], oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                            workload_metadata_config=dict(mode="GKE_METADATA"),
                            service_account=p["service_account"] or "default"))])
            if p["resource_labels"] is not None:
                body["resource_labels"] = dict((k, str(v)) for k, v in p["resource_labels"].items())
            if p["maintenance_window"]:
                body["maintenance_policy"] = dict(window=dict(daily_maintenance_window=dict(
                    start_time=p["maintenance_window"])))
            body = dict((k, v) for k, v in body.items() if v is not None)
            request = dict(parent="projects/%s/locations/%s" % (module.project, p["location"]), cluster=body)
            if p["wait"]:
                gke.run(creating, "create_cluster", request=request)
            else:  # the operation is picked up by the call that waits (settle above)
                module.call(creating, gke.client.create_cluster, request=request)
            actual = gke.read_cluster(p["name"])
            pending = (actual or {}).get("status") in TRANSITIONAL
        module.exit_json(changed=True, pending=pending, cluster=actual or desired, diff=diff_result({}, actual or desired))

    changes = unset_is_off(compare(desired, actual), actual)
    # labels and the maintenance window have calls of their own, each guarded by what was just read
    labels = dict((k, str(v)) for k, v in (p["resource_labels"] or {}).items())
    if p["resource_labels"] is not None and (actual.get("resource_labels") or {}) != labels:
        changes["resource_labels"] = (actual.get("resource_labels") or {}, labels)
    window = ((actual.get("maintenance_policy") or {}).get("window") or {}).get("daily_maintenance_window") or {}
    if p["maintenance_window"] and window.get("start_time") != p["maintenance_window"]:
        changes["maintenance_window"] = (window.get("start_time"), p["maintenance_window"])
    special = [c for c in ("resource_labels", "maintenance_window") if c in changes]
    updatable = [(prefix, field) for prefix, field in UPDATES if any(c == prefix or c.startswith(prefix + ".")
                                                                     for c in changes)]
    covered = [c for c in changes if any(c == prefix or c.startswith(prefix + ".") for prefix, _field in updatable)]
    immutable = sorted(c for c in changes if c not in covered and c not in special)
    if immutable:
        module.fail_json(msg="Cannot change %s of cluster %s in place (%s). Delete and re-create the cluster, or keep "
                             "the current value." % (", ".join(immutable), p["name"], "; ".join(
                                 "%s is %r, wanted %r" % (c, changes[c][0], changes[c][1]) for c in immutable)))
    if not module.check_mode:
        for prefix, field in updatable:
            gke.run("update %s of cluster %s" % (prefix, p["name"]), "update_cluster",
                    request=dict(name=path, update={field: get_path(desired, prefix)}))
        if "resource_labels" in special:
            gke.run("set the labels of cluster %s" % p["name"], "set_labels", request=dict(
                name=path, resource_labels=labels, label_fingerprint=actual.get("label_fingerprint", "")))
        if "maintenance_window" in special:
            policy = dict(window=dict(daily_maintenance_window=dict(start_time=p["maintenance_window"])),
                          resource_version=(actual.get("maintenance_policy") or {}).get("resource_version", ""))
            gke.run("set the maintenance window of cluster %s" % p["name"], "set_maintenance_policy",
                    request=dict(name=path, maintenance_policy=policy))
    if module.check_mode or not changes:
        after = merged(actual, desired)
        if "resource_labels" in special:
            after["resource_labels"] = labels
    else:
        after = gke.read_cluster(p["name"])
    module.exit_json(changed=bool(changes), pending=False, cluster=after, changes=sorted(changes),
                     diff=diff_result(actual, after), region=location_of(p["location"])[1])


if __name__ == "__main__":
    main()
