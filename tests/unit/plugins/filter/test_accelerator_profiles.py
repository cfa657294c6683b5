"""The accelerator profile table (plugins/module_utils/accelerators.py) and its filters: every profile is a shape
GKE accepts, its model server asks for what one node has, and the preflight reads the right quota for it."""

import pytest

from ansible_collections.gke_inference.multicluster.plugins.filter.accelerator_profiles import (
    accelerator_profiles, preflight_quota)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.accelerators import (
    DRANET_MACHINES, PROFILES, dranet_error, shape_errors, units_per_node)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_every_profile_is_consistent(name):
    pool, server, quota = (PROFILES[name][part] for part in ("pool", "server", "quota"))
    assert shape_errors(pool["machine_type"], pool.get("tpu_topology"), pool.get("gpu_type"), pool.get("gpu_count"),
                        pool.get("node_count")) == []
    # the pod asks for every accelerator of its node, on the topology the pool has
    assert server["accelerator_count"] == units_per_node(pool)
    assert server["tpu_topology"] == (pool.get("tpu_topology") or "")
    # DRA networking only where GKE manages DRANET
    assert server["dranet"] == (pool["machine_type"] in DRANET_MACHINES)
    assert server["dranet"] is (dranet_error(pool["machine_type"]) is None)
    assert ":" in server["image"] and not server["image"].endswith(":latest") and server["command"]
    for prefix in ("", "spot_"):
        assert quota[prefix + "metrics"] or quota[prefix + "cloud"], "%s quota of %s is read nowhere" % (prefix, name)
        assert quota[prefix + "elsewhere"]


def test_filters_give_one_part_by_profile_and_copies_of_it():
    pools = accelerator_profiles("pool")
    assert sorted(pools) == sorted(PROFILES) and pools["tpu_v6e"]["machine_type"] == "ct6e-standard-4t"
    pools["tpu_v6e"]["machine_type"] = "changed"
    assert PROFILES["tpu_v6e"]["pool"]["machine_type"] == "ct6e-standard-4t"
    with pytest.raises(ValueError, match="use pool, server or quota"):
        accelerator_profiles("pools")


def test_preflight_quota_counts_the_most_a_pool_can_use_where_its_quota_lives():
    tpu = dict(PROFILES["tpu_v6e"]["pool"], profile="tpu_v6e")
    gpu = dict(PROFILES["gpu_h100"]["pool"], profile="gpu_h100")
    entries = preflight_quota([
        {"region": "us-east5", "pool": tpu},
        {"region": "europe-west4", "pool": dict(tpu, spot=True, node_count=2)},
        {"region": "us-east5", "pool": gpu},  # spot, autoscaling to 3 nodes of 2 GPUs
        {"region": "us-east5", "pool": dict(gpu, spot=False, autoscaling=None, node_count=2)},
        {"region": "us-east5", "pool": dict(gpu, profile="h200")},  # unknown: the preflight reports it elsewhere
    ])
    assert entries == [
        {"region": "us-east5", "metrics": [], "needed": 4.0, "quota_id": "TPUS-PER-TPU-FAMILY-per-project-region",
         "dimensions": {"tpu_family": "CT6E"}, "elsewhere": "'TPUs per TPU family' (tpu_family CT6E) under IAM & Admin > Quotas"},
        {"region": "europe-west4", "metrics": [], "needed": 8.0, "quota_id": "PREEMPTIBLE-TPU-V6E-per-project-region",
         "dimensions": {}, "elsewhere": "'Preemptible TPU v6e' under IAM & Admin > Quotas"},
        {"region": "us-east5", "metrics": ["PREEMPTIBLE_NVIDIA_H100_GPUS"], "needed": 6.0,
         "elsewhere": "'Preemptible NVIDIA H100 GPUs' under IAM & Admin > Quotas"},
        {"region": "us-east5", "metrics": [], "needed": 4.0, "quota_id": "GPUS-PER-GPU-FAMILY-per-project-region",
         "dimensions": {"gpu_family": "NVIDIA_H100"}, "elsewhere": "'GPUs per GPU family' (NVIDIA_H100) under IAM & Admin > Quotas"},
    ]
