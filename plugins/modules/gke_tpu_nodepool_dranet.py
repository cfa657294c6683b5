#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gke_tpu_nodepool_dranet
short_description: Manage a TPU or GPU node pool, with managed DRANET where the machine type has it
version_added: 0.1.0
description:
  - Creates, resizes or deletes any accelerator (TPU or GPU) node pool of a GKE cluster, with GKE-managed
    DRANET where the machine type supports it (C(networkConfig.acceleratorNetworkProfile=auto) and the node label
    C(cloud.google.com/gke-networking-dra-driver=true)), so Pods can claim the nodes' high-speed
    network interfaces through the C(netdev.google.com) DeviceClass.
  - TPU v6e C(ct6e-standard-4t) with a 2x2 slice by default; other v6e/v5e machine types and
    topologies are checked against each other before any call. The GPU variant (for example
    C(a3-highgpu-2g) with two C(nvidia-h100-80gb)) supports driver installation, spot VMs and
    autoscaling.
  - Capacity errors (stockout, exhausted zone resources, quota) fail fast with the zone, the machine
    type and what to try, instead of waiting while GKE retries for half an hour.
  - Node count and autoscaling are updated in place; other settings are immutable and a change fails
    with a message naming them.
options:
  name:
    description: Node pool name.
    type: str
    required: true
  cluster:
    description: Cluster name.
    type: str
    required: true
  location:
    description: The cluster's location (zone or region).
    type: str
    required: true
  machine_type:
    description: TPU or GPU machine type.
    type: str
    default: ct6e-standard-4t
  tpu_topology:
    description: TPU slice topology; defaults to the machine type's single-host topology (V(2x2) for C(ct6e-standard-4t)).
    type: str
  gpu_type:
    description: GPU type; defaults to the machine type's (for example V(nvidia-h100-80gb)).
    type: str
  gpu_count:
    description: GPUs per node; defaults to the machine type's.
    type: int
  gpu_driver_version:
    description: GPU driver GKE installs.
    type: str
    choices: [DEFAULT, LATEST, INSTALLATION_DISABLED]
    default: LATEST
  node_count:
    description: Nodes (per zone) at creation, and the size kept when autoscaling is off.
    type: int
    default: 1
  autoscaling:
    description: Cluster autoscaler bounds (per zone). When set, O(node_count) is only the initial size.
    type: dict
    suboptions:
      min_node_count:
        description: Minimum nodes.
        type: int
        default: 0
      max_node_count:
        description: Maximum nodes.
        type: int
        required: true
  spot:
    description: Use Spot VMs.
    type: bool
    default: false
  dranet:
    description:
      - Enable GKE-managed DRANET on the pool (C(accelerator_network_profile=auto) and the DRA driver node label).
      - Unset, the pool gets it where GKE supports it (TPU v6e C(ct6e-standard-*), C(tpu7x-standard-4t), and the
        A3 Ultra, A4, A4X and A4X Max GPU types), and not elsewhere (the A3 High H100 types such as C(a3-highgpu-2g)).
      - C(true) on a machine type without managed DRANET is an error, before any API call.
      - "Source: U(https://docs.cloud.google.com/kubernetes-engine/docs/how-to/allocate-network-resources-dra)."
    type: bool
  service_account:
    description:
      - Email of the service account the nodes run as. Unset, GKE uses the Compute Engine default service account
        (C(default)), which GKE advises against; the clusters role passes its dedicated least-privilege account.
      - Fixed at creation. GKE cannot change it on an existing pool, so a different value fails with the steps to take.
    type: str
  labels:
    description: Extra Kubernetes node labels.
    type: dict
    default: {}
  state:
    description: Whether the node pool should exist.
    type: str
    choices: [present, absent]
    default: present
  timeout:
    description: Seconds to wait for each operation.
    type: int
    default: 2700
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: TPU v6e 2x2 pool with managed DRANET (the codelab's tpu-v6e-pool)
  gke_inference.multicluster.gke_tpu_nodepool_dranet:
    project: my-project
    cluster: gke-us-east5
    location: us-east5-b
    name: tpu-v6e-pool

- name: H100 pool of the GKE high-availability guide, spot and autoscaled
  gke_inference.multicluster.gke_tpu_nodepool_dranet:
    project: my-project
    cluster: gke-us-east5
    location: us-east5-b
    name: gpu-h100-pool
    machine_type: a3-highgpu-2g
    spot: true
    node_count: 1
    autoscaling: {min_node_count: 1, max_node_count: 3}
"""

RETURN = r"""
node_pool:
  description: The node pool (snake_case keys); empty after deletion.
  returned: success
  type: dict
  sample:
    name: tpu-v6e-pool
    status: RUNNING
    config: {machine_type: ct6e-standard-4t}
    network_config: {accelerator_network_profile: auto}
node_labels:
  description: The labels Pods select the pool's nodes with.
  returned: when O(state=present)
  type: dict
  sample:
    cloud.google.com/gke-tpu-accelerator: tpu-v6e-slice
    cloud.google.com/gke-tpu-topology: 2x2
changes:
  description: The settings that differed from the desired state.
  returned: when the node pool existed
  type: list
  elements: str
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.accelerators import (
    GPU_MACHINES, TPU_MACHINES, dranet_error, shape_errors)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.container import Gke, cluster_path, location_of
from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import compare, diff_result, merged
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import name_error

DRA_LABEL = "cloud.google.com/gke-networking-dra-driver"
CAPACITY_CODES = ("GCE_STOCKOUT", "GCE_QUOTA_EXCEEDED", "ZONE_RESOURCE_POOL_EXHAUSTED")


def desired_pool(p):
    tpu = p["machine_type"] in TPU_MACHINES
    labels = dict(p["labels"])
    if p["dranet"]:
        labels[DRA_LABEL] = "true"
    config = dict(machine_type=p["machine_type"], oauth_scopes=["https://www.googleapis.com/auth/cloud-platform"],
                  workload_metadata_config=dict(mode="GKE_METADATA"), labels=labels, spot=p["spot"] or None,
                  service_account=p["service_account"] or "default")
    if not tpu:
        gpu_type, gpu_count = GPU_MACHINES[p["machine_type"]]
        config["accelerators"] = [dict(accelerator_type=p["gpu_type"] or gpu_type, accelerator_count=p["gpu_count"] or gpu_count,
                                       gpu_driver_installation_config=dict(gpu_driver_version=p["gpu_driver_version"]))]
    pool = dict(name=p["name"], config=config, initial_node_count=p["node_count"],
                network_config=dict(accelerator_network_profile="auto") if p["dranet"] else None)
    topology = p["tpu_topology"]
    if tpu and topology and topology != TPU_MACHINES[p["machine_type"]][2]:
        pool["placement_policy"] = dict(type_="COMPACT", tpu_topology=topology)
    if p["autoscaling"]:
        pool["autoscaling"] = dict(enabled=True, min_node_count=p["autoscaling"]["min_node_count"],
                                   max_node_count=p["autoscaling"]["max_node_count"])
    return pool


def node_labels(p):
    if p["machine_type"] in TPU_MACHINES:
        accelerator, _chips, single = TPU_MACHINES[p["machine_type"]]
        return {"cloud.google.com/gke-tpu-accelerator": accelerator,
                "cloud.google.com/gke-tpu-topology": p["tpu_topology"] or single}
    return {"cloud.google.com/gke-accelerator": p["gpu_type"] or GPU_MACHINES[p["machine_type"]][0]}


def main():
    module = GcpModule(
        argument_spec=dict(
            name=dict(type="str", required=True),
            cluster=dict(type="str", required=True),
            location=dict(type="str", required=True),
            machine_type=dict(type="str", default="ct6e-standard-4t"),
            tpu_topology=dict(type="str"),
            gpu_type=dict(type="str"),
            gpu_count=dict(type="int"),
            gpu_driver_version=dict(type="str", choices=["DEFAULT", "LATEST", "INSTALLATION_DISABLED"], default="LATEST"),
            node_count=dict(type="int", default=1),
            autoscaling=dict(type="dict", options=dict(min_node_count=dict(type="int", default=0),
                                                       max_node_count=dict(type="int", required=True))),
            spot=dict(type="bool", default=False),
            dranet=dict(type="bool"),
            labels=dict(type="dict", default={}),
            service_account=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        timeout=2700,
        supports_check_mode=True,
    )
    p = module.params
    errors = [name_error("name", p["name"])]
    if p["state"] == "present":
        errors.extend(shape_errors(p["machine_type"], p["tpu_topology"], p["gpu_type"], p["gpu_count"], p["node_count"]))
        auto = p["autoscaling"]
        if auto and auto["min_node_count"] > auto["max_node_count"]:
            errors.append("autoscaling: min_node_count %d is greater than max_node_count %d."
                          % (auto["min_node_count"], auto["max_node_count"]))
        if p["node_count"] < 0:
            errors.append("node_count: must be 0 or more.")
        if p["dranet"]:
            errors.append(dranet_error(p["machine_type"]))
        elif p["dranet"] is None:
            p["dranet"] = dranet_error(p["machine_type"]) is None
    errors = [e for e in errors if e]
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    gke = Gke(module, p["location"])
    pool_path = "%s/nodePools/%s" % (cluster_path(module.project, p["location"], p["cluster"]), p["name"])
    kind, region = location_of(p["location"])
    context = dict(zone=p["location"] if kind == "zone" else "the zones of %s" % region, region=region,
                   machine_type=p["machine_type"],
                   other_zones=["%s-%s" % (region, z) for z in "abc" if "%s-%s" % (region, z) != p["location"]])
    actual = gke.read_node_pool(p["cluster"], p["name"])

    if p["state"] == "absent":
        module.exit_absent(actual, lambda: gke.run("delete node pool %s" % p["name"], "delete_node_pool", name=pool_path),
                           "node_pool")

    def capacity_problem():
        """GKE keeps retrying a stockout for a long time; its node pool condition says so at once."""
        pool = gke.read_node_pool(p["cluster"], p["name"]) or {}
        for condition in pool.get("conditions", []):
            if condition.get("code") in CAPACITY_CODES:
                return condition.get("message") or condition["code"], condition["code"], None
        return None

    if actual is not None:  # left PROVISIONING or RECONCILING by an interrupted run: wait for it as if it were ours
        actual = gke.settle(lambda: gke.read_node_pool(p["cluster"], p["name"]),
                            "clusters/%s/nodePools/%s" % (p["cluster"], p["name"]),
                            "create node pool %s (%s) in cluster %s" % (p["name"], p["machine_type"], p["cluster"]),
                            context=context, watch=capacity_problem)

    desired = desired_pool(p)
    if actual is None:
        if not module.check_mode:
            if gke.read_cluster(p["cluster"]) is None:
                module.fail_json(msg="cluster: %s does not exist in %s; create it first (gke_cluster)." % (p["cluster"], p["location"]))
            gke.run("create node pool %s (%s) in cluster %s" % (p["name"], p["machine_type"], p["cluster"]),
                    "create_node_pool", context=context, watch=capacity_problem,
                    request=dict(parent=cluster_path(module.project, p["location"], p["cluster"]), node_pool=desired))
            actual = gke.read_node_pool(p["cluster"], p["name"])
        module.exit_json(changed=True, node_pool=actual or desired, node_labels=node_labels(p),
                         diff=diff_result({}, actual or desired))

    # what can change in place: size (without autoscaling) and autoscaling
    compared = dict(desired)
    compared.pop("initial_node_count")
    changes = compare(compared, actual)
    size_change = not p["autoscaling"] and actual.get("initial_node_count") != p["node_count"]
    mutable = [c for c in changes if c.startswith("autoscaling")]
    immutable = sorted(c for c in changes if c not in mutable)
    if p["autoscaling"] is None and actual.get("autoscaling", {}).get("enabled"):
        mutable.append("autoscaling.enabled")
    if immutable:
        module.fail_json(msg="Cannot change %s of node pool %s in place (%s). Create a new node pool with the new "
                             "settings, move the workload, then delete this one." % (", ".join(immutable), p["name"], "; ".join(
                                 "%s is %r, wanted %r" % (c, changes[c][0], changes[c][1]) for c in immutable)))
    if not module.check_mode:
        if mutable:
            autoscaling = desired.get("autoscaling") or dict(enabled=False)
            gke.run("set autoscaling of node pool %s" % p["name"], "set_node_pool_autoscaling",
                    request=dict(name=pool_path, autoscaling=autoscaling))
        if size_change:
            gke.run("resize node pool %s to %d" % (p["name"], p["node_count"]), "set_node_pool_size",
                    request=dict(name=pool_path, node_count=p["node_count"]))
    changed = bool(mutable or size_change)
    after = merged(actual, desired) if module.check_mode or not changed else gke.read_node_pool(p["cluster"], p["name"])
    module.exit_json(changed=changed, node_pool=after, node_labels=node_labels(p),
                     changes=sorted(mutable + (["node_count"] if size_change else [])), diff=diff_result(actual, after))


if __name__ == "__main__":
    main()
