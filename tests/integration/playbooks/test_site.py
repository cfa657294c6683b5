"""One platform, deployed once by site.yml against its own emulator, then used by the tests that only
need a deployment to exist: the re-run under AWX, phases run alone with bad settings.

The tests run in the order of this file (pytest's order) and share the ``platform`` fixture. With
``GKE_INFERENCE_SNAPSHOT_DIR`` set (scripts/test.sh sets it), the deployment is also saved there as
``site.pickle``: the operations tests (test_site_operations.py) and the Molecule scenarios of the
Kubernetes-side roles start from it.
"""

import base64
import glob
import json
import os
import shutil
import sys

import pytest

from conftest import Gcp, start_emulator, stop_emulator
from helpers import ROOT, failed, first_calls, local_inventory, playbook, recap

P = "gke-inference-local"  # the project of inventories/local, so that Molecule can load the snapshot
TOKEN = "hf_emulatorTokenNotASecret"  # inventories/local's Hugging Face token: must never show
REGIONS = (("europe-west4", "europe-west4-a"), ("us-east5", "us-east5-b"))
PRIMARY, SECONDARY = "us-east5", "europe-west4"
DATAPLANE_SCALE = 0.25


class Platform:  # pylint: disable=too-few-public-methods
    def __init__(self, gcp, inventory, code, out):
        self.gcp, self.inventory, self.code, self.out = gcp, inventory, code, out

    def deployed(self):
        assert self.code == 0, "the deployment failed:\n" + failed(self.out)[:20000]
        return self.gcp


def snapshot_path():
    """Where the deployment is saved, or None when GKE_INFERENCE_SNAPSHOT_DIR is not set."""
    folder = os.environ.get("GKE_INFERENCE_SNAPSHOT_DIR")
    return os.path.join(folder, "site.pickle") if folder else None


def empty_platform(folder):
    """An emulator of the platform's own, its Gcp view and a copy of inventories/local for it."""
    emu, server, endpoint, key_file = start_emulator(folder, project=P)
    gcp = Gcp(emu, endpoint, key_file, project=P)
    return emu, server, gcp, local_inventory(folder, gcp)


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    emu, server, gcp, inv = empty_platform(tmp_path_factory.mktemp("platform"))
    code, out = playbook(gcp, inv)
    if code == 0 and snapshot_path():
        os.makedirs(os.path.dirname(snapshot_path()), exist_ok=True)
        gcp.control("POST", "snapshot", {"path": snapshot_path() + ".partial"})
        os.replace(snapshot_path() + ".partial", snapshot_path())  # readers never see half a file
    yield Platform(gcp, inv, code, out)
    stop_emulator(emu, server)


NODE_SA = "gke-inference-nodes@%s.iam.gserviceaccount.com" % P


def cluster(region):
    zone = dict(REGIONS)[region]
    return "container:projects/%s/locations/%s/clusters/gke-%s" % (P, zone, region)


def test_site_deploys_every_region(platform):
    gcp, out = platform.deployed(), platform.out
    res = gcp.resources()
    p = "compute:projects/%s/" % P
    for region, _zone in REGIONS:
        assert res[p + "regions/%s/subnetworks/tpu-gke-dranet-node-subnet" % region]
        assert res[p + "regions/%s/subnetworks/tpu-gke-dranet-proxy-subnet-%s" % (region, region)]["purpose"] == \
            "GLOBAL_MANAGED_PROXY"
        assert res[p + "regions/%s/addresses/gemma-gateway-ip-%s" % (region, region)]["addressType"] == "INTERNAL"
    assert res[p + "global/networks/tpu-gke-dranet-vpc"]["mtu"] == 8896
    assert res[p + "global/firewalls/tpu-gke-dranet-allow-hc"]
    # the internal rule admits the inventory's subnets, not all of 10.0.0.0/8
    assert sorted(res[p + "global/firewalls/tpu-gke-dranet-allow-internal"]["sourceRanges"]) == [
        "10.0.1.0/24", "10.0.2.0/24", "10.1.1.0/24", "10.1.2.0/24"]
    assert res["storage:b/%s-gemma-weights" % P]
    assert res["storage:b/%s-gemma-weights" % P]["labels"] == {"team": "platform", "env": "emulator"}
    roles = {b["role"] for b in res["storage:iam/%s-gemma-weights" % P]["bindings"]}
    assert {"roles/storage.objectViewer", "roles/storage.objectUser"} <= roles
    for region, _zone in REGIONS:
        stored = res[cluster(region)]
        assert stored["status"] == "RUNNING" and stored["subnetwork"] == "tpu-gke-dranet-node-subnet"
        pool = [x for x in stored["nodePools"] if x["name"] == "tpu-v6e-pool"][0]
        assert pool["networkConfig"]["acceleratorNetworkProfile"] == "auto"
        # the organization's labels and maintenance window (inventories/local)
        assert stored["resourceLabels"] == {"team": "platform", "env": "emulator"}
        assert stored["maintenancePolicy"]["window"]["dailyMaintenanceWindow"]["startTime"] == "03:00"
        # every pool's nodes run as the platform's own service account (not the Compute Engine default)
        assert {x["config"]["serviceAccount"] for x in stored["nodePools"]} == {NODE_SA}
        assert res["gkehub:projects/%s/locations/global/memberships/gke-%s" % (P, region)]
    hub = "gkehub:projects/%s/locations/global/features/" % P
    assert res[hub + "multiclusterservicediscovery"]
    assert res[hub + "multiclusteringress"]["spec"]["multiclusteringress"]["configMembership"].endswith("/gke-us-east5")
    granted = {b["role"] for b in res["cloudresourcemanager:iam/%s" % P]["bindings"] if "serviceAccount:" + NODE_SA in b["members"]}
    assert granted == {"roles/container.defaultNodeServiceAccount", "roles/monitoring.metricWriter",
                       "roles/stackdriver.resourceMetadata.writer"}
    admins = [b for b in res["cloudresourcemanager:iam/%s" % P]["bindings"] if b["role"] == "roles/container.admin"]
    assert admins[0]["members"] == ["serviceAccount:service-123456789012@gcp-sa-multiclusteringress.iam.gserviceaccount.com"]
    assert "cluster" in out and "node pool" in out and "(config cluster)" in out  # the per-region timings
    # The Kubernetes side, in both clusters, and the gateway on the config cluster.
    for region, _zone in REGIONS:
        kube = gcp.emu.kube[cluster(region)]
        deployment = kube.get("apps", "deployments", "default", "vllm-gemma")
        assert deployment["status"]["availableReplicas"] == 1
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"] == {"google.com/tpu": 4} and "--tensor-parallel-size=4" in container["args"]
        assert not container["image"].endswith(":latest") and container["startupProbe"] and container["readinessProbe"]
        pods = kube.list("", "pods", "default")
        server = [x for x in pods if x["metadata"]["labels"].get("app") == "gemma-server"]
        assert server and server[0]["status"]["resourceClaimStatuses"][0]["name"] == "netdev"
        claim = kube.get("resource.k8s.io", "resourceclaims", "default",
                         server[0]["status"]["resourceClaimStatuses"][0]["resourceClaimName"])
        assert {r["driver"] for r in claim["status"]["allocation"]["devices"]["results"]} == {"netdev.google.com"}
        pool = kube.get("inference.networking.k8s.io", "inferencepools", "default", "gemma-pool")
        assert pool["metadata"]["annotations"]["networking.gke.io/export"] == "True"
        assert kube.get("apps", "deployments", "default", "gemma-pool-epp")["status"]["availableReplicas"] == 1
        for group, plural, name in (("autoscaling.gke.io", "autoscalingmetrics", "tpu-cache"),
                                    ("monitoring.googleapis.com", "podmonitorings", "vllm-gemma-monitoring"),
                                    ("inference.networking.x-k8s.io", "inferenceobjectives", "gemma-objective"),
                                    ("", "services", "vllm-gemma-service")):
            assert kube.get(group, plural, "default", name), (region, plural)
        # the InferenceObjective CRD came from the copy the role ships, not from outside the checkout
        assert kube.get("apiextensions.k8s.io", "customresourcedefinitions", "",
                        "inferenceobjectives.inference.networking.x-k8s.io")
        hpa = kube.get("autoscaling", "horizontalpodautoscalers", "default", "vllm-gemma-hpa")
        assert [c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive"][0]["status"] == "True"
    config = gcp.emu.kube[cluster("us-east5")]
    imported = config.get("networking.gke.io", "gcpinferencepoolimports", "default", "gemma-pool")
    assert sorted(c["region"] for c in imported["status"]["clusters"]) == ["europe-west4", "us-east5"]
    gateway = config.get("gateway.networking.k8s.io", "gateways", "default", "cross-region-gateway")
    assert [c["status"] for c in gateway["status"]["conditions"] if c["type"] == "Programmed"] == ["True"]
    assert sorted(a["value"] for a in gateway["status"]["addresses"]) == ["10.0.1.2", "10.0.2.2"]
    policy = config.get("networking.gke.io", "gcpbackendpolicies", "default", "gemma-backend-policy")
    assert policy["spec"]["default"]["customMetrics"][0] == {
        "name": "gke.named_metrics.tpu-cache", "dryRun": False, "maxUtilizationPercent": 60}
    objects = gcp.resources("storage:o/%s-gemma-weights/google/gemma-3-27b-it/" % P)
    assert any(k.endswith("/.download-complete") for k in objects) and len(objects) > 10
    assert TOKEN not in out  # the Hugging Face token never shows
    assert "gateway 10.0.1.2, 10.0.2.2 Programmed" in out  # the verification summary
    # the download started early and collected later is reported complete, on the config region only
    assert out.count("model weights complete in gs://%s-gemma-weights/google/gemma-3-27b-it" % P) == 1
    # kubeconfigs (they hold a token) are written where the inventory says, never into the checkout
    assert not os.path.exists(os.path.join(ROOT, "playbooks", ".kube"))
    assert os.path.exists(os.path.join(platform.inventory, "..", "..", ".emulator", "kube", "gke-us-east5"))
    # The long phases overlap: the download starts before the fleet, the gateway before the model servers.
    first = first_calls(gcp)
    assert first["nodePools"] < first["jobs"] < first["memberships"] < first["gateways"] < first["deployments"], first
    # what the run built, machine-readable (reports/site-*.json, gke_report_dir)
    reports = glob.glob(os.path.join(platform.inventory, "..", "reports", "site-*.json"))
    assert len(reports) == 1, reports
    with open(reports[0], encoding="utf-8") as handle:
        built = json.load(handle)
    assert built["project"] == P and sorted(built["regions"]) == ["europe-west4", "us-east5"]
    east = built["regions"]["us-east5"]
    assert east["cluster"] == {"name": "gke-us-east5", "location": "us-east5-b", "version": "1.34.1-gke.1829001",
                               "status": "RUNNING", "created": True}, east
    assert east["node_pool"]["machine_type"] == "ct6e-standard-4t" and east["network"]["gateway_address"] == "10.0.2.2"
    assert east["workload"]["image"].startswith("vllm/") and east["model_weights"]["complete"] and east["config_cluster"]
    assert east["timings"]["total_seconds"] > 0 and built["gateway"]["programmed"], built
    assert TOKEN not in json.dumps(built)


def test_rerun_under_awx_changes_nothing(platform, tmp_path, monkeypatch):
    """site.yml again, the way AWX runs it (ansible-runner, inventories/prod, credentials only from what AWX's
    Google credential injects): not one mutating call, Google or Kubernetes, and no secret in any event."""
    gcp = platform.deployed()
    gcp.control("DELETE", "requests")
    result, stdout = awx_run(gcp, tmp_path, monkeypatch, "site.yml")
    assert not result.stats["changed"], result.stats["changed"]  # changed=0 on every host
    assert gcp.requests(mutating=True) == []  # not one mutating API call (Google or Kubernetes)
    assert "hf_awxInjectedTokenNotASecret" not in stdout and TOKEN not in stdout
    assert not any("hf_awxInjectedTokenNotASecret" in json.dumps(event) for event in result.events)
    assert "gateway 10.0.1.2, 10.0.2.2 Programmed" in stdout  # the verification ran and passed
    # the node pools are only looked at: nothing is started in the background for the later plays to collect
    ran = [(e["event_data"].get("task_action"), e["event_data"].get("host")) for e in result.events
           if e.get("event") == "runner_on_ok"]
    assert sorted(h for a, h in ran if a == "gke_inference.multicluster.gke_tpu_nodepool_dranet") == [
        "gke-europe-west4", "gke-us-east5"]  # once per region, in check mode
    assert not [h for a, h in ran if a in ("ansible.builtin.async_status", "async_status")]


def test_the_workflow_steps_under_awx(platform, tmp_path, monkeypatch):
    """awx/configure.yml's workflow and schedules, step by step as AWX launches them (ansible-runner, the job
    template's playbook, tags and job type, only AWX's injected credentials): the preflight, the verification
    (site.yml --tags verify) and the drift check (--check --diff), which hands its findings on as artifacts
    (set_stats) and changes nothing. The failover drill that follows verify is run in test_site_operations."""
    gcp = platform.deployed()
    gcp.control("DELETE", "requests")
    preflight, out = awx_run(gcp, tmp_path, monkeypatch, "playbooks/preflight.yml", ident="preflight")
    assert "Preflight: 0 problem(s)" in out, out[-3000:]
    verify, out = awx_run(gcp, tmp_path, monkeypatch, "site.yml", cmdline="--tags verify", ident="verify")
    assert "gateway 10.0.1.2, 10.0.2.2 Programmed" in out, out[-3000:]
    drift, out = awx_run(gcp, tmp_path, monkeypatch, "playbooks/drift.yml", cmdline="--check --diff", ident="drift")
    artifacts = [e["event_data"].get("artifact_data") for e in drift.events if e.get("event") == "playbook_on_stats"]
    assert artifacts and artifacts[-1]["gke_inference_drift"]["differences"] == [], artifacts
    assert "No drift: the live project matches the inventory." in out, out[-3000:]
    # the drift check writes its report on the controller (changed there), and changes nothing of the platform
    assert not preflight.stats["changed"] and not verify.stats["changed"]
    assert gcp.requests(mutating=True) == []


def awx_run(gcp, tmp_path, monkeypatch, playbook, cmdline="", ident="site"):
    """Run a playbook the way an AWX job template does, with only what AWX's Google credential, the survey and
    the Hugging Face credential inject; return (result, stdout) of a successful run."""
    import ansible_runner  # pylint: disable=import-outside-toplevel

    key = tmp_path / "awx-gce-key.json"
    shutil.copy(gcp.key_file, key)
    with open(key, encoding="utf-8") as handle:
        email = json.load(handle)["client_email"]
    envvars = {"GCE_CREDENTIALS_FILE_PATH": str(key), "GCP_SERVICE_ACCOUNT_FILE": str(key),
               "GOOGLE_APPLICATION_CREDENTIALS": str(key), "GCP_AUTH_KIND": "serviceaccount",
               "GCP_PROJECT": P, "GCP_ENV_TYPE": "tower", "GCE_EMAIL": email, "GCE_PROJECT": P,
               # not AWX: the emulator instead of Google, and the collection from this checkout
               "GKE_INFERENCE_API_ENDPOINT": gcp.endpoint,
               "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"), "ANSIBLE_FORCE_COLOR": "0",
               "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    for name in ("GKE_INFERENCE_CREDENTIALS_FILE", "HF_TOKEN", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    extravars = {  # what the job template's survey and the Hugging Face credential give
        "model_cache_hf_token": "hf_awxInjectedTokenNotASecret",
        "clusters_kubeconfig_dir": str(tmp_path / "kube")}
    (tmp_path / "runner").mkdir(exist_ok=True)
    result = ansible_runner.run(private_data_dir=str(tmp_path / "runner"), project_dir=ROOT, playbook=playbook,
                                inventory=os.path.join(ROOT, "inventories", "prod"), envvars=envvars,
                                extravars=extravars, cmdline=cmdline or None, ident=ident, quiet=True, timeout=1200)
    stdout = result.stdout.read()
    assert result.status == "successful" and result.rc == 0, stdout[-5000:]
    assert not result.stats["failures"] and not result.stats["dark"]
    return result, stdout


# One bad setting each, run on the deployed platform as a user fixes one phase: `--tags <phase>` runs that
# phase (and the preflight, tagged always) with what it needs looked up. Earlier phases are not affected by
# these settings (the re-run above proves them no-ops), so each run must make no change at all.
CASES = [
    # The preflight checks every setting that needs no API call (the model id, the workload's settings), so
    # these stop before any phase; with the preflight skipped, the roles still do.
    (["--tags", "model_cache", "-e", "gke_model_id=not-a-model"],
     ["(gke_model_id): 'not-a-model' is not a Hugging Face repository id"]),
    (["--tags", "model_cache", "--skip-tags", "preflight", "-e", "gke_model_id=not-a-model"],
     ["model_cache_model_id (gke_model_id) must be a Hugging Face repository id"]),
    # The preflight catches a missing token and a preferred region that is not one of the inventory's; with it
    # skipped, the roles and modules still do.
    (["--tags", "model_cache", "-e", "gke_model_id=Qwen/Qwen3-0.6B", "-e", "model_cache_hf_token="],
     ["model_cache_hf_token: empty, and gs://%s-gemma-weights/Qwen/Qwen3-0.6B is not complete" % P]),
    (["--tags", "model_cache", "-e", "gke_model_id=Qwen/Qwen3-0.6B", "-e", "model_cache_hf_token=", "-e",
      "gke_skip_preflight=true"],
     ["model_cache_hf_token: the weights of Qwen/Qwen3-0.6B are not complete"]),
    (["--tags", "model_cache", "-e", "gke_model_revision=../other-model"],
     ["model_cache_revision (gke_model_revision), when set, must be a branch, tag or commit"]),
    (["--tags", "gateway", "-e", "gke_preferred_region=asia-east1"],
     ["gke_preferred_region: asia-east1 is not the gcp_region of any host of inference_regions (europe-west4, us-east5)"]),
    (["--tags", "workload", "-e", "workload_tpu_topology=2x4", "-e", "workload_hpa_target=0.7"],
     ["workload_tpu_topology: 2x4 has 8 TPU chips but the pod requests 4",
      "workload_hpa_target: 0.7 must be above 0 and below the load balancer's threshold 0.60"]),
    (["--tags", "workload", "--skip-tags", "preflight", "-e", "workload_tpu_topology=2x4", "-e", "workload_hpa_target=0.7"],
     ["workload_tpu_topology: 2x4 has 8 TPU chips but the pod requests 4",
      "workload_hpa_target: 0.7 must be above 0 and below the load balancer's threshold 0.60",
      "node selector cloud.google.com/gke-tpu-topology=2x4 matches no node of the cluster"]),
    (["--tags", "workload,gateway", "-e", "gke_max_utilization_percent=0"], ["gke_max_utilization_percent): 0 is outside 1-100"]),
    (["--tags", "workload", "-e", "workload_image=vllm/vllm-tpu:latest"], ["workload_image: 'vllm/vllm-tpu:latest' must be pinned"]),
    (["--tags", "gateway", "--skip-tags", "preflight", "-e", "gke_preferred_region=asia-east1"],
     ["backend_policy.preferred_region: asia-east1 is not one of the gateway's regions (europe-west4, us-east5)"]),
    (["--tags", "gateway", "-e", "gateway_max_utilization_percent=101", "-e", "workload_lb_max_utilization_percent=60"],
     ["gateway_max_utilization_percent (gke_max_utilization_percent): 101 is outside 1-100"]),
]


@pytest.mark.parametrize("args,messages", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_phase_with_a_bad_setting_fails_clearly_and_applies_nothing(platform, args, messages):
    gcp = platform.deployed()
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, platform.inventory, *args)
    assert code != 0, out
    for message in messages:
        assert message in out, (message, out[-3000:])
    assert gcp.requests(mutating=True) == [], gcp.requests(mutating=True)
    assert TOKEN not in out


def test_a_phase_alone_changes_nothing_on_a_deployment(platform):
    """--tags runs one phase with what it needs looked up from the deployment (here the workload, whose play
    needs the kubeconfig and the node pool's labels that earlier plays of a full run publish)."""
    gcp = platform.deployed()
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, platform.inventory, "--tags", "workload")
    assert code == 0, failed(out)
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert gcp.requests(mutating=True) == []
    assert "Apply the workload's objects" in out and "VPC network" not in out and "Bucket for the model weights" not in out


def test_the_network_phase_alone_also_makes_the_gateway_pieces(platform):
    """site.yml makes the firewall rules, proxy-only subnets and addresses after starting the clusters, while GKE
    creates them: --tags network still makes them (here a deleted firewall rule), and starts no cluster."""
    gcp = platform.deployed()
    assert gcp.run("compute_firewall", name="tpu-gke-dranet-allow-hc", state="absent")["changed"]
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, platform.inventory, "--tags", "network")
    assert code == 0, failed(out)
    assert [k for k in gcp.resources() if k.endswith("/firewalls/tpu-gke-dranet-allow-hc")], "the rule was not made again"
    inserts = [r["method_id"] for r in gcp.requests(mutating=True)]
    assert inserts == ["compute.firewalls.insert"], inserts
    assert "Proxy-only subnet of the region" in out and "GKE cluster of the region" not in out


def test_one_region_alone_changes_nothing_and_says_what_it_left_out(platform):
    """--limit to a region that is not the config region: the preflight and the fleet find the config cluster in
    the inventory, nothing changes on a deployment, and the run says the config cluster was not in it."""
    gcp = platform.deployed()
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, platform.inventory, "--limit", "gke-europe-west4")
    assert code == 0, failed(out)
    assert list(recap(out)) == ["gke-europe-west4"] and recap(out)["gke-europe-west4"]["changed"] == 0, out[-2000:]
    assert gcp.requests(mutating=True) == []
    assert "The fleet's config cluster (gke-us-east5, us-east5) is not in this run" in out
    # what the regions share belongs to the config cluster's host: not even looked at
    assert "gke-us-east5 is not in this run (--limit): what the regions share" in out
    shared = [r["path"] for r in gcp.requests() if any(part in r["path"] for part in (
        "/global/networks/", "/global/firewalls/", "/features/", "/serviceAccounts/"))]
    assert shared == [], shared


def test_a_failed_download_leaves_no_token_in_the_cluster(platform):
    """A download that fails (the token cannot read the gated model) fails the run with the Job's log, and the
    token's Secret is removed all the same; the token is in no output, in any encoding. Last: it leaves a failed
    Job of another model on the platform."""
    gcp = platform.deployed()
    bad = "not-a-hf-token-canary"
    code, out = playbook(gcp, platform.inventory, "--tags", "model_cache", "-e", "gke_model_id=google/gemma-3-1b-it",
                         "-e", "model_cache_hf_token=%s" % bad, "-e", "gke_skip_preflight=true", "-vvv")
    assert code != 0 and "The download of google/gemma-3-1b-it failed" in out and "GatedRepoError" in out, out[-3000:]
    config = gcp.emu.kube[cluster("us-east5")]
    assert config.get("", "secrets", "default", "hf-token-downloader") is None
    assert config.get("batch", "jobs", "default", "model-downloader")
    for form in (bad, base64.b64encode(bad.encode()).decode(), base64.urlsafe_b64encode(bad.encode()).decode()):
        assert form not in out
