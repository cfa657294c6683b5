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
