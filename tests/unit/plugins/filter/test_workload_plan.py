"""The workload role's profile resolution and checks (plugins/filter/workload_plan.py)."""

from ansible_collections.gke_inference.multicluster.plugins.filter.accelerator_profiles import accelerator_profiles
from ansible_collections.gke_inference.multicluster.plugins.filter.workload_plan import workload_plan

PROFILES = accelerator_profiles("server")


def plan(**overrides):
    settings = {"profiles": PROFILES, "profile_name": "tpu_v6e", "overrides": {}, "model_id": "google/gemma-3-27b-it",
                "node_labels": {}, "lb_max_utilization_percent": 60, "hpa_enabled": True, "hpa_target": "0.5",
                "hpa_min_replicas": 1, "failure_mode": "FailOpen"}
    settings.update(overrides)
    return workload_plan(settings)


def test_profiles_resolve_to_the_seeds():
    tpu = plan()
    assert tpu["errors"] == []
    assert tpu["profile"]["node_selector"] == {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
                                               "cloud.google.com/gke-tpu-topology": "2x2"}
    assert tpu["profile"]["tensor_parallel_size"] == 4 and tpu["profile"]["metric_export_name"] == "tpu-cache"
    gpu = plan(profile_name="gpu_h100")
    assert gpu["errors"] == [] and gpu["profile"]["accelerator_count"] == 2
    assert gpu["profile"]["node_selector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}


def test_every_problem_is_reported_at_once():
    errors = plan(overrides={"image": "vllm/vllm-tpu", "tpu_topology": "2x4"}, model_id="gemma",
                  lb_max_utilization_percent=101, hpa_target="1.2", failure_mode="Open")["errors"]
    text = " | ".join(errors)
    assert len(errors) == 6, errors
    for fragment in ("workload_image: 'vllm/vllm-tpu' must be pinned", "2x4 has 8 TPU chips but the pod requests 4",
                     "workload_model_id (gke_model_id): 'gemma'", "101 is outside 1-100", "workload_hpa_target: 1.2",
                     "workload_pool_failure_mode"):
        assert fragment in text


def test_images_pinned_by_tag_or_digest():
    assert plan(overrides={"image": "vllm/vllm-tpu:latest"})["errors"]
    assert plan(overrides={"image": "registry:5000/vllm/vllm-tpu"})["errors"]
    assert not plan(overrides={"image": "registry:5000/vllm/vllm-tpu:v0.12.0"})["errors"]
    assert not plan(overrides={"image": "vllm/vllm-tpu@sha256:" + "a" * 64})["errors"]


def test_node_selector_must_match_the_cluster_pool():
    labels = {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice", "cloud.google.com/gke-tpu-topology": "2x2"}
    assert plan(node_labels=labels)["errors"] == []
    errors = plan(profile_name="gpu_h100", node_labels=labels)["errors"]
    assert errors == ["node selector cloud.google.com/gke-accelerator=nvidia-h100-80gb matches no node of the cluster "
                      "(its accelerator pool has cloud.google.com/gke-accelerator=nothing): the pods would never "
                      "schedule; use the clusters role's accelerator profile and topology"]


def test_hpa_target_must_stay_below_the_load_balancer_threshold():
    assert plan(hpa_target="0.6")["errors"]
    assert not plan(hpa_target="0.59")["errors"]
    assert not plan(hpa_enabled=False, hpa_target="0.9")["errors"]


def test_region_header_needs_a_header_name_and_a_region():
    assert plan(region_header="x-served-region", region="us-east5")["errors"] == []
    assert plan(region_header="", region="")["errors"] == []  # turned off: no region needed
    errors = plan(region_header="x served:region", region="")["errors"]
    assert len(errors) == 2, errors
    assert errors[0].startswith("workload_region_header: 'x served:region' is not an HTTP header name")
    assert errors[1].startswith("workload_region (gcp_region): '' is not a region such as us-east5")


def test_each_profile_states_its_command_and_a_context_that_fits():
    for name, max_len in (("tpu_v6e", 16384), ("gpu_h100", 32768)):
        profile = plan(profile_name=name)["profile"]
        assert profile["command"] == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
        assert profile["max_model_len"] == max_len
    assert plan(overrides={"max_model_len": 8192})["profile"]["max_model_len"] == 8192
    assert plan(overrides={"command": ["vllm", "serve"]})["profile"]["command"] == ["vllm", "serve"]


def test_a_context_beyond_the_model_and_a_bad_command_are_refused():
    errors = plan(overrides={"max_model_len": 262144})["errors"]
    assert len(errors) == 1 and errors[0].startswith("workload_max_model_len: 262144 must be between 1 and 131072")
    broken = dict(PROFILES, tpu_v6e=dict(PROFILES["tpu_v6e"], command=[]))
    errors = plan(profiles=broken)["errors"]
    assert len(errors) == 1 and errors[0].startswith("workload_command: [] must be the model server's command")
