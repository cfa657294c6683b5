"""The preflight on fresh emulated projects, and what the rolling upgrade refuses before it touches anything
(the failover drill, the load test, the upgrade and the teardown run on the shared platform of test_site.py)."""

import pytest

from helpers import failed, local_inventory, playbook


def test_preflight_reports_every_problem_at_once_and_creates_nothing(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, overrides={
        "all": {"gke_config_region": "asia-east1", "model_cache_hf_token": "",
                "clusters_pool_overrides": {"tpu_topology": "4x4"}},
        "us_east5": {"gcp_zone": "europe-west4-a", "network_node_subnet_cidr": "10.0.1.0/24"}})
    gcp.control("POST", "config", {"denied_permissions": ["container.clusters.create", "serviceusage.services.enable"]})
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, playbook="playbooks/preflight.yml")
    assert code != 0, out
    for expected in ("gke-us-east5: gcp_zone: zone 'europe-west4-a' is not in region 'us-east5'",  # the network plan
                     "gke-europe-west4 network_node_subnet_cidr (10.0.1.0/24) overlaps gke-us-east5",
                     "gke_config_region: asia-east1 must be the gcp_region of exactly one host",
                     "model_cache_hf_token: empty",
                     "node_count: a 4x4 slice of ct6e-standard-4t needs exactly 4 nodes",
                     "the caller lacks container.clusters.create",
                     "are disabled and the caller may not enable them"):
        assert expected in out, (expected, out)
    assert "Preflight found 7 problem(s)" in out, out
    assert gcp.requests(mutating=True) == []
    assert gcp.resources("compute:") == {} and gcp.resources("storage:") == {}


def test_preflight_on_a_new_project_passes_and_says_what_it_could_not_check(gcp, tmp_path):
    services = gcp.emu.projects[gcp.project]["services"]
    services.difference_update({"cloudresourcemanager.googleapis.com", "compute.googleapis.com"})
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv, playbook="playbooks/preflight.yml")
    assert code == 0, failed(out)
    assert "Preflight: 0 problem(s)" in out
    assert "permissions: not tested, cloudresourcemanager.googleapis.com is disabled" in out
    assert "quota: not read, compute.googleapis.com is disabled" in out
    assert gcp.requests(mutating=True) == []


def test_preflight_quota_shortfall_for_the_gpu_profile(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, overrides={"all": {"gke_accelerator_profile": "gpu_h100"}})
    gcp.control("POST", "config", {"quotas": {"us-east5": {"PREEMPTIBLE_NVIDIA_H100_GPUS": 4}}})
    code, out = playbook(gcp, inv, playbook="playbooks/preflight.yml")
    assert code != 0, out
    # spot H100: 2 GPUs per a3-highgpu-2g node, up to 3 nodes = 6 needed, 4 allowed
    assert "region us-east5 has 4 of PREEMPTIBLE_NVIDIA_H100_GPUS left (limit 4, in use 0) but the node pool needs 6" \
        in out, out
    assert "europe-west4 has" not in out
    assert "Preflight found 1 problem(s)" in out


def test_preflight_reads_the_tpu_quota_from_cloud_quotas(gcp, tmp_path):
    """TPU v6e chips are not a Compute Engine regional quota (no value of compute v1 Quota.metric names them):
    the preflight reads them from Cloud Quotas, says so when that API is not enabled yet, and names the region
    whose quota is short."""
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv, playbook="playbooks/preflight.yml")
    assert code == 0, failed(out)
    for region in ("us-east5", "europe-west4"):
        assert ("quota: not checked in %s - cloudquotas.googleapis.com, where the quota "
                "TPUS-PER-TPU-FAMILY-per-project-region is read, is disabled" % region) in out, out
    with gcp.emu.lock:
        gcp.emu.projects[gcp.project]["services"].add("cloudquotas.googleapis.com")
    gcp.control("POST", "config", {"cloud_quotas": {"TPUS-PER-TPU-FAMILY-per-project-region": [
        {"dimensions": {"region": "europe-west4", "tpu_family": "CT6E"}, "value": 0}]}})
    code, out = playbook(gcp, inv, playbook="playbooks/preflight.yml")
    assert code != 0, out
    assert ("quota: region europe-west4 allows 0 of TPUS-PER-TPU-FAMILY-per-project-region tpu_family=CT6E but the "
            "node pool needs 4; request more quota") in out, out
    # the project-wide value applies where no region-specific one is set; usage is not in Cloud Quotas
    assert ("quota: TPUS-PER-TPU-FAMILY-per-project-region tpu_family=CT6E in us-east5 allows 32 (the node pool "
            "needs 4); what other node pools there already use of it is not read") in out, out
    assert "Preflight found 1 problem(s)" in out


def test_bad_settings_stop_site_before_anything_exists(gcp, tmp_path):
    """Settings that need no API call to be found wrong are found by the preflight that site.yml runs first:
    nothing is created, and each message names the inventory variable to change (issue 18: before, each of
    these failed in its role, after the network, the clusters and often the TPU pools existed)."""
    inv = local_inventory(tmp_path, gcp, overrides={
        "all": {"gke_max_utilization_percent": 150, "workload_tpu_topology": "2x4",
                "clusters_pool_overrides": {"autoscaling": {"min_node_count": 3, "max_node_count": 1}},
                "gke_model_bucket": "Team_Weights", "gke_model_id": "google/gemma 3!",
                "network_prefix": "platform-team-inference-network-with-a-name-much-too-long",
                "gke_resource_labels": {"Team": "platform"}, "gke_maintenance_window": "3am"},
        # a value of the whole platform set differently in one region
        "europe_west4": {"gke_config_region": "europe-west4"}})
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv)
    assert code != 0, out
    for expected in ("gke_max_utilization_percent): 150 is outside 1-100",
                     "workload_tpu_topology: 2x4 has 8 TPU chips",
                     "clusters_pool_overrides: autoscaling min_node_count 3 is above max_node_count 1 (gke-us-east5)",
                     "gke_model_bucket: Team_Weights is not a Cloud Storage bucket name",
                     "gke_model_id): 'google/gemma 3!' is not a Hugging Face repository id",
                     "gke_config_region: the hosts disagree (", "gke-us-east5=us-east5", "gke-europe-west4=europe-west4",
                     "gke-us-east5: network_proxy_subnet_name: 'platform-team-inference-network-with-a-name-much-too-long-"
                     "proxy-subnet-us-east5' is not a valid resource name", "Shorten network_prefix",
                     "gke_resource_labels: Team=platform is not a Google Cloud label",
                     "gke_maintenance_window: 3am is not a time of day as HH:MM"):
        assert expected in out, (expected, out)
    assert gcp.requests(mutating=True) == []


@pytest.mark.parametrize("args,message", [
    (["--check"], "cannot be previewed; preview the change with"),
    (["--limit", "gke-us-east5"], "A rolling upgrade needs another region to serve while one rolls"),
])
def test_upgrade_refuses_what_it_cannot_do_and_changes_nothing(gcp, tmp_path, args, message):
    """playbooks/upgrade.yml in check mode (it cannot be previewed: site.yml --check --diff can) or on one region
    (no other region to serve while it rolls) stops before anything is read or changed."""
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, local_inventory(tmp_path, gcp), *args, playbook="playbooks/upgrade.yml")
    assert code != 0 and message in out and "Nothing was changed" in out, out[-2000:]
    assert gcp.requests(mutating=True) == []
