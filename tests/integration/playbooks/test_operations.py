"""The operations playbooks against the emulator and its data plane: preflight, the failover drill,
the spill-over load test and the teardown."""

import glob
import json
import os

from test_site import local_inventory, playbook, recap

PROJECT = "test-project-1"
PRIMARY, SECONDARY = "us-east5", "europe-west4"
CLUSTERS = {PRIMARY: "container:projects/%s/locations/us-east5-b/clusters/gke-us-east5" % PROJECT,
            SECONDARY: "container:projects/%s/locations/europe-west4-a/clusters/gke-europe-west4" % PROJECT}
DATAPLANE_SCALE = 0.25
HEALTH = {"interval": 2, "timeout": 2, "unhealthy": 2}  # the gateway role's defaults
ENDPOINT_SYNC = 5  # latency.json dataplane.endpoint_sync
ANSIBLE_SLACK = 4.0  # the drill marks the outage before its scale-down task runs


def report(directory, prefix):
    files = sorted(glob.glob(os.path.join(str(directory), prefix + "*.json")))
    assert files, "no %s report in %s" % (prefix, directory)
    with open(files[-1], encoding="utf-8") as handle:
        return json.load(handle)


def deployment(gcp, region):
    return gcp.emu.kube[CLUSTERS[region]].get("apps", "deployments", "default", "vllm-gemma")


def set_replicas(gcp, region, replicas):
    """An event outside the drill's control (another team scaling the secondary down, say)."""
    with gcp.emu.lock:
        deployment(gcp, region)["spec"]["replicas"] = replicas


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
    services = gcp.emu.projects[PROJECT]["services"]
    services.difference_update({"cloudresourcemanager.googleapis.com", "compute.googleapis.com"})
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv, playbook="playbooks/preflight.yml")
    assert code == 0, out
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


def test_drill_load_test_and_teardown(gcp, tmp_path):
    gcp.control("POST", "config", {"dataplane_scale": DATAPLANE_SCALE})
    inv = local_inventory(tmp_path, gcp)
    reports = tmp_path / "reports"
    code, out = playbook(gcp, inv)
    assert code == 0, out

    # 1. The drill: graceful scale-down of the primary, measured, restored.
    windows = ("-e", "failover_drill_baseline_seconds=2", "-e", "failover_drill_outage_seconds=2", "-e",
               "failover_drill_after_seconds=2", "-e", "failover_drill_report_dir=%s" % reports)
    code, out = playbook(gcp, inv, *windows, playbook="playbooks/failover_drill.yml")
    assert code == 0, out
    drill = report(reports, "failover-drill-")
    assert drill["passed"] and drill["problems"] == [], drill
    assert drill["failed"] == 0  # the scale-down drained: not one request lost
    assert drill["phases"]["before"]["by_region"] == {PRIMARY: drill["phases"]["before"]["ok"]}
    assert drill["phases"]["during"]["by_region"].get(SECONDARY, 0) > 0  # the secondary took over
    assert drill["phases"]["after"]["by_region"] == {PRIMARY: drill["phases"]["after"]["ok"]}  # and gave it back
    # Failover within what the health-check settings and the endpoint sync allow (plus the drill's own overhead).
    bound = (HEALTH["interval"] * HEALTH["unhealthy"] + HEALTH["timeout"] + ENDPOINT_SYNC) * DATAPLANE_SCALE
    assert 0 < drill["failover_seconds"] <= bound + ANSIBLE_SLACK, drill
    assert drill["back_to_normal_seconds"] is not None
    assert deployment(gcp, PRIMARY)["spec"]["replicas"] == 1
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1
    assert "Failover drill (graceful outage of us-east5" in out and "failed requests: 0 of" in out
    text = glob.glob(str(reports / "failover-drill-*.txt"))
    assert text and "PASSED" in open(text[0], encoding="utf-8").read()

    # An abrupt outage (pods killed without grace) loses the requests in flight and those sent before the
    # load balancer notices; the drill still measures the failover and restores the primary.
    for name in glob.glob(str(reports / "failover-drill-*")):
        os.remove(name)
    code, out = playbook(gcp, inv, *windows, "-e", "failover_drill_outage=abrupt", "-e", "failover_drill_max_error_share=1",
                         playbook="playbooks/failover_drill.yml")
    assert code == 0, out
    abrupt = report(reports, "failover-drill-")
    assert abrupt["outage"] == "abrupt" and abrupt["failed"] > 0 and abrupt["failover_seconds"] is not None, abrupt
    assert abrupt["phases"]["after"]["by_region"] == {PRIMARY: abrupt["phases"]["after"]["ok"]}
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1

    # 2. The spill-over test: load rises on the preferred region until traffic spills to the other one.
    stages = [{"rate": 2, "duration": 3}, {"rate": 6, "duration": 3}, {"rate": 40, "duration": 4}]
    code, out = playbook(gcp, inv, "-e", json.dumps({"load_test_stages": stages, "load_test_metrics_interval": 0.2,
                                                     "load_test_max_tokens": 100,
                                                     "load_test_report_dir": str(reports)}),
                         playbook="playbooks/load_test.yml")
    assert code == 0, out
    load = report(reports, "load-test-")
    assert load["spill_started"] and load["threshold_percent"] == 60
    assert load["stages"][0]["spilled_share"] == 0.0  # light load stays in the preferred region
    assert load["stages"][-1]["spilled_share"] > 0.1  # heavy load spills
    assert load["preferred_utilization_at_spill"] >= 40, load  # near the 60 % threshold, sampled

    # 3. A drill whose secondary is down too: it fails, says why, and still restores the primary.
    set_replicas(gcp, SECONDARY, 0)
    for name in glob.glob(str(reports / "failover-drill-*")):
        os.remove(name)
    code, out = playbook(gcp, inv, *windows, "-e", "failover_drill_check_secondary=false", "-e",
                         "failover_drill_max_failover_seconds=4", playbook="playbooks/failover_drill.yml")
    assert code != 0, out
    failed = report(reports, "failover-drill-")
    assert not failed["passed"] and failed["failover_seconds"] is None
    assert any("never answered by another region" in p for p in failed["problems"]), failed
    assert failed["failed"] > 0
    assert "Failover drill FAILED" in out
    assert deployment(gcp, PRIMARY)["spec"]["replicas"] == 1
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1
    # ... and with the default pre-check it refuses to start, changing nothing.
    code, out = playbook(gcp, inv, playbook="playbooks/failover_drill.yml")
    assert code != 0 and "has no ready replica" in out and "Nothing was changed" in out
    set_replicas(gcp, SECONDARY, 1)

    # 4. Teardown: nothing without the confirmation...
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, playbook="playbooks/teardown.yml")
    assert code != 0 and "Nothing was deleted" in out, out
    assert gcp.requests(mutating=True) == []
    # ... everything but the model bucket by default, including the controllers' firewall rules ...
    firewalls = gcp.resources("compute:projects/%s/global/firewalls/" % PROJECT)
    assert any("mcsd" in k for k in firewalls) and any("k8s-fw-l7" in k for k in firewalls)
    confirm = ("-e", "teardown_confirm=%s" % PROJECT)
    code, out = playbook(gcp, inv, *confirm, playbook="playbooks/teardown.yml")
    assert code == 0, out
    assert "Teardown complete" in out and "except the model bucket" in out
    left = gcp.resources()
    assert sorted(k.split("/")[0] for k in left if k.startswith("storage:b")) == ["storage:b"]
    assert [k for k in left if k.startswith(("compute:", "container:", "gkehub:"))] == []
    # ... then the bucket too, and the project is as it was.
    code, out = playbook(gcp, inv, *confirm, "-e", "teardown_delete_bucket=true", playbook="playbooks/teardown.yml")
    assert code == 0, out
    left = gcp.resources()
    assert [k for k in left if not k.startswith("cloudresourcemanager:iam/")] == [], sorted(left)
    assert left["cloudresourcemanager:iam/%s" % PROJECT]["bindings"] == [
        {"role": "roles/owner", "members": ["user:owner@example.com"]}]
    assert gcp.emu.kube == {} and gcp.control("GET", "dataplane")["processes"] == 0
    # A second teardown is a no-op.
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, *confirm, "-e", "teardown_delete_bucket=true", playbook="playbooks/teardown.yml")
    assert code == 0, out
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert gcp.requests(mutating=True) == []
