"""Bad input to the Kubernetes-side roles: a clear error naming the variable, and nothing applied.

One deployment, then site.yml re-runs with one bad setting each: everything before the failing
role is a no-op, so the run must make no change at all, on Google's APIs or in any cluster.
"""

from test_site import local_inventory, playbook


CASES = [
    (["-e", "gke_model_id=not-a-model"], ["model_cache_model_id (gke_model_id) must be a Hugging Face repository id"]),
    # The preflight (the first play of site.yml) catches a missing token and a preferred region that is not
    # one of the inventory's; with it skipped, the roles and modules still do.
    (["-e", "gke_model_id=Qwen/Qwen3-0.6B", "-e", "model_cache_hf_token="],
     ["model_cache_hf_token: empty, and gs://test-project-1-gemma-weights/Qwen/Qwen3-0.6B is not complete"]),
    (["-e", "gke_model_id=Qwen/Qwen3-0.6B", "-e", "model_cache_hf_token=", "-e", "gke_skip_preflight=true"],
     ["model_cache_hf_token: the weights of Qwen/Qwen3-0.6B are not complete"]),
    (["-e", "gke_preferred_region=asia-east1"],
     ["gke_preferred_region: asia-east1 is not the gcp_region of any host of inference_regions (europe-west4, us-east5)"]),
    (["-e", "workload_tpu_topology=2x4", "-e", "workload_hpa_target=0.7"],
     ["workload_tpu_topology: 2x4 has 8 TPU chips but the pod requests 4",
      "workload_hpa_target: 0.7 must be above 0 and below the load balancer's threshold 0.60",
      "node selector cloud.google.com/gke-tpu-topology=2x4 matches no node of the cluster"]),
    (["-e", "gke_max_utilization_percent=0"], ["gke_max_utilization_percent): 0 is outside 1-100"]),
    (["-e", "workload_image=vllm/vllm-tpu:latest"], ["workload_image: 'vllm/vllm-tpu:latest' must be pinned"]),
    (["-e", "gke_preferred_region=asia-east1", "--skip-tags", "preflight"],
     ["backend_policy.preferred_region: asia-east1 is not one of the gateway's regions (europe-west4, us-east5)"]),
    (["-e", "gateway_max_utilization_percent=101", "-e", "workload_lb_max_utilization_percent=60"],
     ["gateway_max_utilization_percent (gke_max_utilization_percent): 101 is outside 1-100"]),
]


def test_bad_kubernetes_settings_fail_clearly_and_apply_nothing(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv)
    assert code == 0, out
    for args, messages in CASES:
        gcp.control("DELETE", "requests")
        code, out = playbook(gcp, inv, *args)
        assert code != 0, (args, out)
        for message in messages:
            assert message in out, (args, message, out[-3000:])
        assert gcp.requests(mutating=True) == [], (args, gcp.requests(mutating=True))
        assert "hf_emulatorTokenNotASecret" not in out
