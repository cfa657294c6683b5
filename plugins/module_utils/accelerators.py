# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Accelerator shapes GKE accepts, checked before any API call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# TPU machine type -> (accelerator label, chips per node, single-host topology)
TPU_MACHINES = {
    "ct6e-standard-1t": ("tpu-v6e-slice", 1, "1x1"),
    "ct6e-standard-4t": ("tpu-v6e-slice", 4, "2x2"),
    "ct6e-standard-8t": ("tpu-v6e-slice", 8, "2x4"),
    "ct5lp-hightpu-1t": ("tpu-v5-lite-podslice", 1, "1x1"),
    "ct5lp-hightpu-4t": ("tpu-v5-lite-podslice", 4, "2x2"),
    "ct5lp-hightpu-8t": ("tpu-v5-lite-podslice", 8, "2x4"),
}
# multi-host topologies of the 4-chip machines -> number of nodes
MULTI_HOST = {"4x4": 4, "4x8": 8, "8x8": 16, "8x16": 32, "16x16": 64}
# GPU machine type -> (accelerator type, count)
GPU_MACHINES = {
    "a3-highgpu-1g": ("nvidia-h100-80gb", 1), "a3-highgpu-2g": ("nvidia-h100-80gb", 2),
    "a3-highgpu-4g": ("nvidia-h100-80gb", 4), "a3-highgpu-8g": ("nvidia-h100-80gb", 8),
    "a3-megagpu-8g": ("nvidia-h100-mega-80gb", 8),
    "g2-standard-4": ("nvidia-l4", 1), "g2-standard-24": ("nvidia-l4", 2), "g2-standard-48": ("nvidia-l4", 4),
}

# Machine types on which GKE manages DRANET (accelerator_network_profile=auto), as listed under
# "Requirements" in https://docs.cloud.google.com/kubernetes-engine/docs/how-to/allocate-network-resources-dra
# (A3 Ultra, A4, A4X, A4X Max with RDMA NICs; TPU7x and TPU v6e with NetDevice). Not the A3 High H100 types.
DRANET_MACHINES = ("a3-ultragpu-8g", "a4-highgpu-8g", "a4x-highgpu-4g", "a4x-maxgpu-4g-metal", "tpu7x-standard-4t",
                   "ct6e-standard-8t", "ct6e-standard-4t", "ct6e-standard-1t")


def dranet_error(machine_type):
    """Why managed DRANET cannot be asked for on this machine type, or None."""
    if machine_type in DRANET_MACHINES:
        return None
    return ("dranet: GKE-managed DRANET is not available on %s (it is on %s); set dranet: false, or leave it unset "
            "to get DRANET only where the machine type supports it." % (machine_type, ", ".join(DRANET_MACHINES)))


def shape_errors(machine_type, topology=None, gpu_type=None, gpu_count=None, node_count=None):
    """Problems with an accelerator node pool's shape, each naming the option and the fix."""
    errors = []
    if machine_type in TPU_MACHINES:
        _label, chips, single = TPU_MACHINES[machine_type]
        if gpu_type or gpu_count:
            errors.append("gpu_type/gpu_count: %s is a TPU machine type; remove the GPU options." % machine_type)
        if topology and topology != single:
            if chips == 4 and topology in MULTI_HOST:
                if node_count not in (None, MULTI_HOST[topology]):
                    errors.append("node_count: a %s slice of %s needs exactly %d nodes, not %s."
                                  % (topology, machine_type, MULTI_HOST[topology], node_count))
            else:
                allowed = [single] + (sorted(MULTI_HOST) if chips == 4 else [])
                errors.append("tpu_topology: %s does not fit machine type %s (%d chips per node); use %s."
                              % (topology, machine_type, chips, " or ".join(allowed)))
    elif machine_type in GPU_MACHINES:
        want_type, want_count = GPU_MACHINES[machine_type]
        if topology:
            errors.append("tpu_topology: %s is a GPU machine type; remove tpu_topology." % machine_type)
        if gpu_type and gpu_type != want_type:
            errors.append("gpu_type: %s is not available on %s; it has %s." % (gpu_type, machine_type, want_type))
        if gpu_count is not None and gpu_count != want_count:
            errors.append("gpu_count: %s has %d GPU(s), not %s." % (machine_type, want_count, gpu_count))
    else:
        errors.append("machine_type: %s is not a TPU or GPU machine type this module knows (%s)."
                      % (machine_type, ", ".join(sorted(TPU_MACHINES) + sorted(GPU_MACHINES))))
    return errors


# The accelerator profiles: the one place a profile is described. Each has
#   pool:   the node pool the clusters role creates (gke_tpu_nodepool_dranet's options);
#   server: the model server the workload role runs on it (image, command, context length, what the pod
#           requests and tolerates, the AutoscalingMetric export name the gateway's policy reads, HPA maximum);
#   quota:  where the preflight reads the pool's quota - Compute Engine regional metrics (values of compute v1
#           Quota.metric), else a Cloud Quotas id and its dimensions - and the console's name for it, on demand
#           and (spot_*) for spot pools.
# Adding a profile is one entry here, plus its tests. Sources for each value are beside it.
PROFILES = {
    "tpu_v6e": {
        "pool": {"name": "tpu-v6e-pool", "machine_type": "ct6e-standard-4t", "tpu_topology": "2x2", "node_count": 1,
                 "spot": False, "autoscaling": None},
        "server": {
            "image": "vllm/vllm-tpu:v0.12.0",
            # The image has no ENTRYPOINT and its CMD is /bin/bash (tpu-inference docker/Dockerfile at v0.12.0):
            # the command is stated, as the codelab does.
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            # Google's reference architecture serves gemma-3-27b-it on TPU v6e with MAX_MODEL_LEN=16384
            # (GoogleCloudPlatform/accelerated-platforms, online-inference-tpu/vllm/v6e-gemma-3-27b-it): the full
            # 128k context would reserve about 64 GB of KV cache beside 54 GB of weights in the 2x2's 128 GB of HBM.
            "max_model_len": 16384, "max_model_len_limit": 131072,
            "container": "vllm-tpu",
            "accelerator_label": {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice"},
            "tpu_topology": "2x2", "accelerator_resource": "google.com/tpu", "accelerator_count": 4, "dranet": True,
            "metric_export_name": "tpu-cache", "hpa_max_replicas": 2,
            "tolerations": [{"key": "google.com/tpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "quota": {
            # compute v1 Quota.metric has no TPU v6e value; the Cloud Quotas ids are read from public projects
            # that query the API, not from Google's documentation (unverified).
            "metrics": [], "cloud": {"quota_id": "TPUS-PER-TPU-FAMILY-per-project-region",
                                     "dimensions": {"tpu_family": "CT6E"}},
            "elsewhere": "'TPUs per TPU family' (tpu_family CT6E) under IAM & Admin > Quotas",
            "spot_metrics": [], "spot_cloud": {"quota_id": "PREEMPTIBLE-TPU-V6E-per-project-region", "dimensions": {}},
            "spot_elsewhere": "'Preemptible TPU v6e' under IAM & Admin > Quotas",
        },
    },
    "gpu_h100": {
        "pool": {"name": "gpu-h100-pool", "machine_type": "a3-highgpu-2g", "gpu_type": "nvidia-h100-80gb",
                 "gpu_count": 2, "gpu_driver_version": "LATEST", "node_count": 1, "spot": True,
                 "autoscaling": {"min_node_count": 1, "max_node_count": 3}},
        "server": {
            "image": "vllm/vllm-openai:v0.11.0",
            # Stated rather than taken from the image: vLLM's Dockerfile changed its ENTRYPOINT to `vllm serve`
            # around this release (vllm PR #25967).
            "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
            # GKE's tutorial serves gemma-3-27b-it on one 80 GB GPU with --max-model-len=32768
            # (kubernetes-engine-samples ai-ml/llm-serving-gemma/vllm/vllm-3-27b-it.yaml); the pod has two.
            "max_model_len": 32768, "max_model_len_limit": 131072,
            "container": "vllm-gpu",
            "accelerator_label": {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"},
            "tpu_topology": "", "accelerator_resource": "nvidia.com/gpu", "accelerator_count": 2, "dranet": False,
            "metric_export_name": "kv-cache", "hpa_max_replicas": 10,
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
        "quota": {
            # compute v1 Quota.metric has, for H100, only PREEMPTIBLE_ and COMMITTED_NVIDIA_H100_GPUS
            "metrics": [], "cloud": {"quota_id": "GPUS-PER-GPU-FAMILY-per-project-region",
                                     "dimensions": {"gpu_family": "NVIDIA_H100"}},
            "elsewhere": "'GPUs per GPU family' (NVIDIA_H100) under IAM & Admin > Quotas",
            "spot_metrics": ["PREEMPTIBLE_NVIDIA_H100_GPUS"], "spot_cloud": None,
            "spot_elsewhere": "'Preemptible NVIDIA H100 GPUs' under IAM & Admin > Quotas",
        },
    },
}


def units_per_node(pool):
    """Chips (TPU) or GPUs one node of ``pool`` (a node pool's options) has; 0 for an unknown machine type."""
    machine = (pool or {}).get("machine_type") or ""
    if machine in TPU_MACHINES:
        return TPU_MACHINES[machine][1]
    if machine in GPU_MACHINES:
        return int(pool.get("gpu_count") or GPU_MACHINES[machine][1])
    return 0


def quota_check(profile, pool, region):
    """The preflight_info quota entry of one region's pool: the most chips or GPUs it can use (its maximum node
    count when it autoscales), and where that quota is read. None for an unknown profile."""
    quota = (PROFILES.get(profile) or {}).get("quota")
    if quota is None:
        return None
    spot = "spot_" if pool.get("spot") else ""
    nodes = ((pool.get("autoscaling") or {}).get("max_node_count") or pool.get("node_count") or 1)
    entry = {"region": region, "metrics": list(quota[spot + "metrics"]), "needed": float(units_per_node(pool) * int(nodes)),
             "elsewhere": quota[spot + "elsewhere"]}
    entry.update(quota[spot + "cloud"] or {})
    return entry
