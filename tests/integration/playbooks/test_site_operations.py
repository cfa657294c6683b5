"""The operations playbooks on the platform of test_site.py: the failover drill (graceful, abrupt,
secondary down, refused), the spill-over load test, and the teardown, last.

With ``GKE_INFERENCE_SNAPSHOT_DIR`` set (scripts/test.sh runs this file beside the platform's other
tests), the platform is the deployment test_site.py saved there, loaded into an emulator of this file's
own (waiting for it up to ``GKE_INFERENCE_SNAPSHOT_WAIT`` seconds); without it, site.yml deploys it here.
"""

import glob
import json
import os
import time

import pytest
import yaml

from conftest import stop_emulator
from helpers import failed, playbook, recap
from test_site import DATAPLANE_SCALE, P, PRIMARY, SECONDARY, Platform, cluster, empty_platform, snapshot_path


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    emu, server, gcp, inv = empty_platform(tmp_path_factory.mktemp("operations"))
    saved = snapshot_path()
    if saved:
        deadline = time.time() + float(os.environ.get("GKE_INFERENCE_SNAPSHOT_WAIT", "1200"))
        while not os.path.exists(saved) and time.time() < deadline:
            time.sleep(2)
        assert os.path.exists(saved), "test_site.py saved no deployment in %s" % saved
        gcp.control("POST", "load", {"path": saved})
        code, out = 0, ""
    else:
        code, out = playbook(gcp, inv)
    yield Platform(gcp, inv, code, out)
    stop_emulator(emu, server)


def report(directory, prefix):
    files = sorted(glob.glob(os.path.join(str(directory), prefix + "*.json")))
    assert files, "no %s report in %s" % (prefix, directory)
    with open(files[-1], encoding="utf-8") as handle:
        return json.load(handle)


def deployment(gcp, region):
    return gcp.emu.kube[cluster(region)].get("apps", "deployments", "default", "vllm-gemma")


def set_replicas(gcp, region, replicas):
    """An event outside the drill's control (another team scaling the secondary down, say)."""
    with gcp.emu.lock:
        deployment(gcp, region)["spec"]["replicas"] = replicas


def test_drill_load_test_and_secondary_down(platform, tmp_path):
    gcp = platform.deployed()
    inv = platform.inventory
    gcp.control("POST", "config", {"dataplane_scale": DATAPLANE_SCALE})
    reports = tmp_path / "reports"

    # 1. The drill: graceful scale-down of the primary, measured, restored.
    windows = ("-e", "failover_drill_baseline_seconds=2", "-e", "failover_drill_outage_seconds=2", "-e",
               "failover_drill_after_seconds=2", "-e", "failover_drill_report_dir=%s" % reports)
    code, out = playbook(gcp, inv, *windows, playbook="playbooks/failover_drill.yml")
    assert code == 0, failed(out)
    drill = report(reports, "failover-drill-")
    assert drill["passed"] and drill["problems"] == [], drill
    assert drill["failed"] == 0  # the scale-down drained: not one request lost
    assert drill["phases"]["before"]["by_region"] == {PRIMARY: drill["phases"]["before"]["ok"]}
    assert drill["phases"]["during"]["by_region"].get(SECONDARY, 0) > 0  # the secondary took over
    assert drill["phases"]["after"]["by_region"] == {PRIMARY: drill["phases"]["after"]["ok"]}  # and gave it back
    # The failover as measured (a figure the report prints, not a speed this test asserts): from the outage on,
    # the primary answered until the load balancer took it out, then only the secondary did, until the restore.
    marks, points = drill["marks_at"], drill["series"]
    switched = marks["outage_started"] + drill["failover_seconds"]
    assert marks["outage_started"] < switched < marks["restore_started"], drill["marks_at"]
    answered = [p for p in points if p["ok"] and switched <= p["t"] < marks["restore_started"]]
    assert answered and {p["region"] for p in answered} == {SECONDARY}, answered
    assert drill["back_to_normal_seconds"] is not None
    assert deployment(gcp, PRIMARY)["spec"]["replicas"] == 1
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1
    assert "Failover drill (graceful outage of us-east5" in out and "failed requests: 0 of" in out
    text = glob.glob(str(reports / "failover-drill-*.txt"))
    assert text and "PASSED" in open(text[0], encoding="utf-8").read()
    # every request is kept, and drawn on a page to look at
    assert len(drill["series"]) == drill["requests"] and {p["region"] for p in drill["series"]} >= {PRIMARY, SECONDARY}
    page = glob.glob(str(reports / "failover-drill-*.html"))
    assert page and open(page[0], encoding="utf-8").read().count('<circle class="ok"') == sum(
        1 for p in drill["series"] if p["ok"])

    # An abrupt outage (pods killed without grace) loses the requests in flight and those sent before the
    # load balancer notices; the drill still measures the failover and restores the primary. This one sends from
    # inside the VPC (gke_traffic_from=cluster): its probes and its stream are Jobs in the config cluster, the
    # stream stopped by the drill's stop file on the controller.
    for name in glob.glob(str(reports / "failover-drill-*")):
        os.remove(name)
    # 20 requests a second, so that some are in flight when the pod is killed even if the generator was held up;
    # 4 s windows, so that the Job's generator (a Python that starts in the pod) sends before the outage
    slow = ("-e", "failover_drill_baseline_seconds=4", "-e", "failover_drill_outage_seconds=2", "-e",
            "failover_drill_after_seconds=4", "-e", "failover_drill_report_dir=%s" % reports)
    code, out = playbook(gcp, inv, *slow, "-e", "failover_drill_outage=abrupt", "-e", "failover_drill_max_error_share=1",
                         "-e", "failover_drill_rate=20", "-e", "gke_traffic_from=cluster", playbook="playbooks/failover_drill.yml")
    assert code == 0, failed(out)
    abrupt = report(reports, "failover-drill-")
    assert abrupt["outage"] == "abrupt" and abrupt["failed"] > 0 and abrupt["failover_seconds"] is not None, abrupt
    assert abrupt["traffic_from"] == "cluster" and abrupt["phases"]["before"]["ok"] > 0, abrupt
    assert abrupt["phases"]["after"]["by_region"] == {PRIMARY: abrupt["phases"]["after"]["ok"]}
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1

    # 2. The spill-over test: load rises on the preferred region until traffic spills to the other one.
    stages = [{"rate": 2, "duration": 3}, {"rate": 6, "duration": 3}, {"rate": 40, "duration": 4}]
    code, out = playbook(gcp, inv, "-e", json.dumps({"load_test_stages": stages, "load_test_metrics_interval": 0.2,
                                                     "load_test_max_tokens": 100,
                                                     "load_test_report_dir": str(reports)}),
                         playbook="playbooks/load_test.yml")
    assert code == 0, failed(out)
    load = report(reports, "load-test-")
    assert load["series"] and load["utilization"] and glob.glob(str(reports / "load-test-*.html"))
    assert load["spill_started"] and load["threshold_percent"] == 60
    assert load["stages"][0]["spilled_share"] == 0.0  # light load stays in the preferred region
    assert load["stages"][-1]["spilled_share"] > 0.1  # heavy load spills
    # The spill came from the preferred region's utilization: in the heavy stage, the sampler saw it near the 60 %
    # threshold. (The sample just before the first spilled request can be a sampling interval old, so that one is
    # only required to exist: how near it is depends on the machine's load, not on the collection.)
    assert load["preferred_utilization_at_spill"] is not None, load
    assert load["stages"][-1]["preferred_utilization_max"] >= 45, load  # the heavy stage, which spills most
    assert "%% KV-cache utilization, sampled %s s before" % load["preferred_utilization_sample_age"] in out
    assert load["traffic_from"] == "controller"  # through the emulator's proxy, as gke_gateway_http_proxy says

    # The same load test from inside the VPC: a controller that cannot reach the gateway's address (no proxy) sends
    # from a Job in the config cluster (inference_traffic's run_in, chosen by gke_traffic_from auto), whose
    # generator really runs and reports through the pod's log. Its figures agree with the controller's.
    for name in glob.glob(str(reports / "load-test-*")):
        os.remove(name)
    code, out = playbook(gcp, inv, "-e", json.dumps({"load_test_stages": stages, "load_test_metrics_interval": 0.2,
                                                     "load_test_max_tokens": 100, "gke_gateway_http_proxy": "",
                                                     "gke_traffic_probe_seconds": 1,
                                                     "load_test_report_dir": str(reports)}),
                         playbook="playbooks/load_test.yml")
    assert code == 0, failed(out)
    assert "Requests come from a Job in the config cluster" in out
    inside = report(reports, "load-test-")
    assert inside["traffic_from"] == "cluster" and inside["spill_started"] and inside["utilization"], inside
    for there, here in zip(load["stages"], inside["stages"]):
        assert abs(there["requests"] - here["requests"]) <= 1 and here["failed"] == there["failed"] == 0, (there, here)
    assert inside["stages"][0]["spilled_share"] == 0.0 and inside["stages"][-1]["spilled_share"] > 0.1, inside
    config = gcp.emu.kube["container:projects/%s/locations/us-east5-b/clusters/gke-us-east5" % gcp.project]
    assert not [j for j in config.list("batch", "jobs") if j["metadata"]["name"].startswith("inference-traffic-")]
    assert not [c for c in config.list("", "configmaps") if c["metadata"]["name"].startswith("inference-traffic-")]

    # 3. A drill whose secondary is down too: it fails, says why, and still restores the primary.
    set_replicas(gcp, SECONDARY, 0)
    for name in glob.glob(str(reports / "failover-drill-*")):
        os.remove(name)
    code, out = playbook(gcp, inv, *windows, "-e", "failover_drill_check_secondary=false", "-e",
                         "failover_drill_max_failover_seconds=4", playbook="playbooks/failover_drill.yml")
    assert code != 0, out
    bad = report(reports, "failover-drill-")
    assert not bad["passed"] and bad["failover_seconds"] is None
    assert any("never answered by another region" in p for p in bad["problems"]), bad
    assert bad["failed"] > 0
    assert "Failover drill FAILED" in out
    assert deployment(gcp, PRIMARY)["spec"]["replicas"] == 1
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1
    # ... and with the default pre-check it refuses to start, changing nothing in any region: the guard failed
    # for the secondary's host, and the primary's host did not go on with the drill
    for name in glob.glob(str(reports / "failover-drill-*")):
        os.remove(name)
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, *windows, playbook="playbooks/failover_drill.yml")
    assert code != 0 and "has no ready replica" in out and "Nothing was changed" in out
    assert gcp.requests(mutating=True) == [], gcp.requests(mutating=True)
    assert "Baseline" not in out and not glob.glob(str(reports / "failover-drill-*"))
    set_replicas(gcp, SECONDARY, 1)
    # --limit to the primary alone: there would be no region in the run to check, so it refuses, changing nothing
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, *windows, "--limit", "gke-us-east5", playbook="playbooks/failover_drill.yml")
    assert code != 0 and "needs another region to take over" in out and "Nothing was changed" in out, out[-2000:]
    assert gcp.requests(mutating=True) == []


def container(gcp, region):
    return deployment(gcp, region)["spec"]["template"]["spec"]["containers"][0]


def mounts(gcp, region):
    """The GCS FUSE mount options of the model server's weights."""
    return " ".join(str(((v.get("csi") or {}).get("volumeAttributes") or {}).get("mountOptions", ""))
                    for v in deployment(gcp, region)["spec"]["template"]["spec"].get("volumes") or [])


def test_rolling_upgrade_without_a_failed_request_and_a_bad_one_rolled_back(platform, tmp_path):
    """The inventory changed as a user changes it (new vLLM arguments and a new model revision), then the upgrade,
    region by region with steady traffic: the revision is downloaded beside the old weights, not one request
    fails, each region proves it serves through its own gateway address before the next rolls. Then an image the
    second region cannot pull: the first region is done, the second gets its Deployment back and serves again,
    and the run fails saying so. It leaves the platform as the inventory now says (the drift check follows)."""
    gcp = platform.deployed()
    inv = platform.inventory
    gcp.control("POST", "config", {"dataplane_scale": DATAPLANE_SCALE})
    image = container(gcp, PRIMARY)["image"]
    all_vars = os.path.join(inv, "group_vars", "all.yml")
    with open(all_vars, encoding="utf-8") as handle:
        settings = yaml.safe_load(handle)
    settings.update(workload_extra_args=["--max-num-seqs=64"], gke_model_revision="emulated-v2")
    with open(all_vars, "w", encoding="utf-8") as handle:
        yaml.safe_dump(settings, handle)
    reports = tmp_path / "good"
    # this one sends from inside the VPC (its stream a Job in the config cluster); the bad one below from here
    code, out = playbook(gcp, inv, "-e", "upgrade_settle_seconds=4", "-e", "upgrade_poll_interval=1", "-e", "upgrade_report_dir=%s" % reports,
                         "-e", "gke_traffic_from=cluster", playbook="playbooks/upgrade.yml")
    assert code == 0, failed(out)
    upgrade = report(reports, "upgrade-")
    assert upgrade["passed"] and upgrade["failed"] == 0 and upgrade["requests"] > 0, upgrade
    assert upgrade["traffic_from"] == "cluster" and upgrade["phases"]["before"]["ok"] > 0, upgrade
    assert [(r["region"], r["result"]) for r in upgrade["rolls"]] == [(SECONDARY, "upgraded"), (PRIMARY, "upgraded")]
    assert upgrade["rolls"][0]["ended"] <= upgrade["rolls"][1]["started"]  # one region at a time
    for region in (PRIMARY, SECONDARY):
        assert "--max-num-seqs=64" in container(gcp, region)["args"] and container(gcp, region)["image"] == image
        assert "only-dir=google/gemma-3-27b-it@emulated-v2" in mounts(gcp, region)
        assert deployment(gcp, region)["status"]["readyReplicas"] == 1
    assert glob.glob(os.path.join(str(reports), "upgrade-*.html"))
    objects = [key for key, _obj in gcp.emu.items("storage:o/%s-gemma-weights/google/gemma-3-27b-it" % P)]
    for folder in ("google/gemma-3-27b-it/", "google/gemma-3-27b-it@emulated-v2/"):  # the old weights stay
        assert any(key.endswith(folder + ".download-complete") for key in objects), folder

    reports = tmp_path / "bad"
    host_vars = os.path.join(inv, "host_vars")
    os.makedirs(host_vars, exist_ok=True)
    bad = os.path.join(host_vars, "gke-%s.yml" % PRIMARY)  # the second region to roll
    with open(bad, "w", encoding="utf-8") as handle:
        handle.write("workload_image: vllm/vllm-tpu:v0.0.0-not-published\n")
    try:
        code, out = playbook(gcp, inv, "-e", "upgrade_settle_seconds=1", "-e", "upgrade_poll_interval=1", "-e", "upgrade_report_dir=%s" % reports,
                             "-e", "upgrade_ready_timeout=8", playbook="playbooks/upgrade.yml")
    finally:
        os.remove(bad)
    assert code != 0, out
    upgrade = report(reports, "upgrade-")
    assert [(r["region"], r["result"].split(" after ")[0]) for r in upgrade["rolls"]] == [
        (SECONDARY, "upgraded"), (PRIMARY, "rolled back")], upgrade["rolls"]
    assert not upgrade["passed"] and "Rolling upgrade FAILED" in out and PRIMARY + ": rolled back" in out
    assert upgrade["traffic_from"] == "controller"
    for region in (PRIMARY, SECONDARY):  # the second region is back on what it ran, and both serve
        assert container(gcp, region)["image"] == image and "--max-num-seqs=64" in container(gcp, region)["args"]
        assert "only-dir=google/gemma-3-27b-it@emulated-v2" in mounts(gcp, region)
        assert deployment(gcp, region)["status"]["readyReplicas"] == 1


def test_drift_check_names_what_changed_behind_the_collections_back(platform, tmp_path):
    """playbooks/drift.yml: four changes made behind the collection's back (a firewall range, a node-pool size,
    the model server's image, a field removed from the GCPBackendPolicy) are each named in the list and the JSON
    report, and nothing else is: the rolling upgrade before it left the platform as the inventory says. The run
    fails and changes nothing. (No drift at all on a deployment: test_site.py's AWX workflow steps.)"""
    gcp = platform.deployed()
    inv = platform.inventory
    reports = tmp_path / "reports"
    args = ("--check", "--diff", "-e", "drift_report_dir=%s" % reports)
    # without its callback the check would see nothing: it refuses instead of reporting no drift
    code, out = playbook(gcp, inv, *args, playbook="playbooks/drift.yml", env={"ANSIBLE_CALLBACKS_ENABLED": "gke_inference.multicluster.progress"})
    assert code != 0 and "drift callback is not enabled" in out, out[-2000:]

    rule = gcp.emu.store["compute:projects/%s/global/firewalls/tpu-gke-dranet-allow-internal" % P]
    rule["sourceRanges"] = ["10.0.0.0/8"]
    pool = [x for x in gcp.emu.store[cluster(SECONDARY)]["nodePools"] if x["name"] == "tpu-v6e-pool"][0]
    pool["initialNodeCount"] = 2
    kube = gcp.emu.kube[cluster(SECONDARY)]
    server = kube.get("apps", "deployments", "default", "vllm-gemma")
    server["spec"]["template"]["spec"]["containers"][0]["image"] = "vllm/vllm-tpu:v0.11.0-hand-edited"
    config = gcp.emu.kube[cluster(PRIMARY)]
    policy = config.get("networking.gke.io", "gcpbackendpolicies", "default", "gemma-backend-policy")
    del policy["spec"]["default"]["trafficDuration"]
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, *args, playbook="playbooks/drift.yml")
    assert code != 0 and "Drift found:" in out, out[-4000:]
    assert gcp.requests(mutating=True) == []
    found = report(reports, "drift-")["differences"]
    text = json.dumps(found)
    planted = ("10.0.0.0/8", "initial_node_count: 2 -> 1", "vllm/vllm-tpu:v0.11.0-hand-edited", "trafficDuration")
    for expected in planted:
        assert expected in text, (expected, found)
        assert expected in out, expected
    # nothing but what was planted: every difference is one of them
    assert all(any(expected in json.dumps(entry) for expected in planted) for entry in found), found


def test_teardown_of_one_region_leaves_the_rest_serving(platform):
    """teardown.yml --limit to one region removes that region's part (cluster and pools, subnets, address,
    membership, the firewall rules GKE made for its cluster) and keeps what the others share (network, shared
    rules, bucket and grants, fleet features, the nodes' service account, the gateway), which still serves."""
    gcp = platform.deployed()
    code, out = playbook(gcp, platform.inventory, "--limit", "gke-europe-west4", "-e", "teardown_confirm=%s" % P,
                         playbook="playbooks/teardown.yml")
    assert code == 0, failed(out)
    left = gcp.resources()
    p = "compute:projects/%s/" % P
    assert cluster(SECONDARY) not in left and cluster(PRIMARY) in left
    assert p + "regions/europe-west4/subnetworks/tpu-gke-dranet-node-subnet" not in left
    assert p + "regions/europe-west4/addresses/gemma-gateway-ip-europe-west4" not in left
    assert p + "regions/us-east5/addresses/gemma-gateway-ip-us-east5" in left
    firewalls = [k.rsplit("/", 1)[1] for k in left if k.startswith(p + "global/firewalls/")]
    assert not [f for f in firewalls if f.startswith("gke-gke-europe-west4-")], firewalls
    assert {"tpu-gke-dranet-allow-internal", "tpu-gke-dranet-allow-hc"} <= set(firewalls)
    assert any(f.startswith("k8s-fw-l7-") for f in firewalls) and any(f.startswith("gke-gke-us-east5-") for f in firewalls)
    hub = "gkehub:projects/%s/locations/global/" % P
    assert hub + "memberships/gke-europe-west4" not in left and hub + "memberships/gke-us-east5" in left
    assert hub + "features/multiclusteringress" in left and hub + "features/multiclusterservicediscovery" in left
    assert p + "global/networks/tpu-gke-dranet-vpc" in left and "storage:b/%s-gemma-weights" % P in left
    assert "gke-inference-nodes@%s.iam.gserviceaccount.com" % P in gcp.emu.projects[P]["service_accounts"]
    assert "kept for the regions outside this run (gke-us-east5)" in out
    # the rest serves: the primary's model server, the gateway programmed, the pool import down to one region
    config = gcp.emu.kube[cluster(PRIMARY)]
    assert deployment(gcp, PRIMARY)["status"]["readyReplicas"] == 1
    gateway = config.get("gateway.networking.k8s.io", "gateways", "default", "cross-region-gateway")
    assert [c["status"] for c in gateway["status"]["conditions"] if c["type"] == "Programmed"] == ["True"]
    deadline = time.time() + 30
    while time.time() < deadline:
        imported = config.get("networking.gke.io", "gcpinferencepoolimports", "default", "gemma-pool")
        if imported and [c["region"] for c in imported["status"]["clusters"]] == [PRIMARY]:
            break
        time.sleep(0.5)
    assert [c["region"] for c in imported["status"]["clusters"]] == [PRIMARY], imported


def test_teardown_last(platform):
    gcp = platform.deployed()
    inv = platform.inventory
    # Nothing without the confirmation...
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, playbook="playbooks/teardown.yml")
    assert code != 0 and "Nothing was deleted" in out, out
    assert gcp.requests(mutating=True) == []
    # ... everything but the model bucket by default, including the controllers' firewall rules ...
    firewalls = gcp.resources("compute:projects/%s/global/firewalls/" % P)
    assert any("mcsd" in k for k in firewalls) and any("k8s-fw-l7" in k for k in firewalls)
    # Another team's things in the same project and on the same network: a service account, a firewall rule on
    # the collection's VPC, a fleet membership (which keeps the project-wide service discovery feature in use).
    accounts = gcp.emu.projects[P]["service_accounts"]
    ours = "gke-inference-nodes@%s.iam.gserviceaccount.com" % P
    assert accounts[ours]["description"].startswith("Nodes of the gke_inference.multicluster platform")
    theirs = dict(accounts[ours], email="team-b-nodes@%s.iam.gserviceaccount.com" % P, description="team B",
                  uniqueId="1", name="projects/%s/serviceAccounts/team-b-nodes@%s.iam.gserviceaccount.com" % (P, P))
    accounts[theirs["email"]] = theirs
    rule_key = "compute:projects/%s/global/firewalls/team-b-allow-ssh-from-bastion" % P
    some_rule = next(iter(firewalls.values()))
    gcp.emu.store[rule_key] = dict(some_rule, name="team-b-allow-ssh-from-bastion", id="42", description="team B",
                                   allowed=[{"IPProtocol": "tcp", "ports": ["22"]}], sourceRanges=["10.9.0.0/24"],
                                   selfLink=some_rule["selfLink"].rsplit("/", 1)[0] + "/team-b-allow-ssh-from-bastion")
    hub = "gkehub:projects/%s/locations/global/" % P
    membership = gcp.resources(hub + "memberships/")[hub + "memberships/gke-us-east5"]
    gcp.emu.store[hub + "memberships/team-b-cluster"] = dict(
        membership, name=membership["name"].rsplit("/", 1)[0] + "/team-b-cluster", uniqueId="43", endpoint={
            "gkeCluster": {"resourceLink": "//container.googleapis.com/projects/%s/locations/us-central1-a/clusters/"
                                           "team-b" % P}})
    confirm = ("-e", "teardown_confirm=%s" % P)
    code, out = playbook(gcp, inv, *confirm, playbook="playbooks/teardown.yml")
    assert code == 0, failed(out)
    assert "Teardown complete" in out and "except the model bucket" in out
    assert sorted(accounts) == [theirs["email"]]  # ours deleted (its grants revoked: see the policy below)
    left = gcp.resources()
    assert sorted(k.split("/")[0] for k in left if k.startswith("storage:b")) == ["storage:b"]
    # theirs survive, and the network their rule uses; everything else of ours is gone; the run says what it left
    assert sorted(k for k in left if k.startswith(("compute:", "container:", "gkehub:"))) == sorted([
        rule_key, "compute:projects/%s/global/networks/tpu-gke-dranet-vpc" % P, hub + "memberships/team-b-cluster",
        hub + "features/multiclusterservicediscovery"]), out[-6000:]
    for said in ("Left on tpu-gke-dranet-vpc: team-b-allow-ssh-from-bastion",
                 "network tpu-gke-dranet-vpc: kept, it carries firewall rules that are not the collection's",
                 "fleet feature multiclusterservicediscovery: kept, other memberships use it (team-b-cluster)"):
        assert said in out, (said, out[-3000:])
    # once team B is gone, a second teardown takes the network and the feature
    for key in (rule_key, hub + "memberships/team-b-cluster"):
        del gcp.emu.store[key]
    del accounts[theirs["email"]]
    # ... then the bucket too, and the project is as it was.
    code, out = playbook(gcp, inv, *confirm, "-e", "teardown_delete_bucket=true", playbook="playbooks/teardown.yml")
    assert code == 0, failed(out)
    left = gcp.resources()
    assert [k for k in left if not k.startswith("cloudresourcemanager:iam/")] == [], sorted(left)
    assert left["cloudresourcemanager:iam/%s" % P]["bindings"] == [
        {"role": "roles/owner", "members": ["user:owner@example.com"]}]
    assert gcp.emu.kube == {} and gcp.control("GET", "dataplane")["processes"] == 0
    # A second teardown is a no-op.
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv, *confirm, "-e", "teardown_delete_bucket=true", playbook="playbooks/teardown.yml")
    assert code == 0, failed(out)
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert gcp.requests(mutating=True) == []
