"""site.yml run by ansible-playbook against the in-process emulator."""

import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LOCAL = os.path.join(ROOT, "inventories", "local")
CRDS = os.path.realpath(os.path.join(ROOT, "..", "shared", "crds"))


def playbook(gcp, inventory, *args, playbook="site.yml"):
    env = dict(os.environ, GKE_INFERENCE_API_ENDPOINT=gcp.endpoint, GKE_INFERENCE_CREDENTIALS_FILE=gcp.key_file,
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"),
               # the inventories are copies in tmp_path: the CRD beside the checkout, not in the cache by chance
               GKE_INFERENCE_CRDS_DIR=os.environ.get("GKE_INFERENCE_CRDS_DIR") or CRDS)
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([binary, playbook, "-i", inventory] + list(args), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def recap(output):
    return {host: dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counts))
            for host, counts in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.M)}


def local_inventory(tmp_path, gcp, extra_groups=None, overrides=None):
    """A copy of inventories/local for the test project, optionally with more regions or changed vars."""
    inv = tmp_path / "inventory"
    shutil.copytree(LOCAL, inv)
    all_vars = inv / "group_vars" / "all.yml"
    data = yaml.safe_load(all_vars.read_text())
    data["gcp_project_id"] = gcp.project
    all_vars.write_text(yaml.safe_dump(data))
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    regions = hosts["all"]["children"]["inference_regions"]["children"]
    for group, (host, group_vars) in (extra_groups or {}).items():
        regions[group] = {"hosts": {host: None}}
        (inv / "group_vars" / ("%s.yml" % group)).write_text(yaml.safe_dump(group_vars))
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    for group, values in (overrides or {}).items():
        path = inv / "group_vars" / ("%s.yml" % group)
        merged = dict(yaml.safe_load(path.read_text()), **values)
        path.write_text(yaml.safe_dump(merged))
    return str(inv)


def test_site_twice_second_run_changes_nothing(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv)
    assert code == 0, out
    res = gcp.resources()
    p = "compute:projects/test-project-1/"
    for region in ("europe-west4", "us-east5"):
        assert res[p + "regions/%s/subnetworks/tpu-gke-dranet-node-subnet" % region]
        assert res[p + "regions/%s/subnetworks/tpu-gke-dranet-proxy-subnet-%s" % (region, region)]["purpose"] == \
            "GLOBAL_MANAGED_PROXY"
        assert res[p + "regions/%s/addresses/gemma-gateway-ip-%s" % (region, region)]["addressType"] == "INTERNAL"
    assert res[p + "global/networks/tpu-gke-dranet-vpc"]["mtu"] == 8896
    assert res[p + "global/firewalls/tpu-gke-dranet-allow-hc"]
    assert res["storage:b/test-project-1-gemma-weights"]
    roles = {b["role"] for b in res["storage:iam/test-project-1-gemma-weights"]["bindings"]}
    assert {"roles/storage.objectViewer", "roles/storage.objectUser"} <= roles
    for region, zone in (("europe-west4", "europe-west4-a"), ("us-east5", "us-east5-b")):
        cluster = res["container:projects/test-project-1/locations/%s/clusters/gke-%s" % (zone, region)]
        assert cluster["status"] == "RUNNING" and cluster["subnetwork"] == "tpu-gke-dranet-node-subnet"
        pool = [p for p in cluster["nodePools"] if p["name"] == "tpu-v6e-pool"][0]
        assert pool["networkConfig"]["acceleratorNetworkProfile"] == "auto"
        assert res["gkehub:projects/test-project-1/locations/global/memberships/gke-%s" % region]
    hub = "gkehub:projects/test-project-1/locations/global/features/"
    assert res[hub + "multiclusterservicediscovery"]
    assert res[hub + "multiclusteringress"]["spec"]["multiclusteringress"]["configMembership"].endswith("/gke-us-east5")
    admins = [b for b in res["cloudresourcemanager:iam/test-project-1"]["bindings"] if b["role"] == "roles/container.admin"]
    assert admins[0]["members"] == ["serviceAccount:service-123456789012@gcp-sa-multiclusteringress.iam.gserviceaccount.com"]
    assert "cluster" in out and "node pool" in out and "(config cluster)" in out  # the per-region timings
    # The Kubernetes side, in both clusters, and the gateway on the config cluster.
    for region, zone in (("europe-west4", "europe-west4-a"), ("us-east5", "us-east5-b")):
        kube = gcp.emu.kube["container:projects/test-project-1/locations/%s/clusters/gke-%s" % (zone, region)]
        deployment = kube.get("apps", "deployments", "default", "vllm-gemma")
        assert deployment["status"]["availableReplicas"] == 1
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["resources"]["limits"] == {"google.com/tpu": 4} and "--tensor-parallel-size=4" in container["args"]
        assert not container["image"].endswith(":latest") and container["startupProbe"] and container["readinessProbe"]
        pods = kube.list("", "pods", "default")
        server = [p for p in pods if p["metadata"]["labels"].get("app") == "gemma-server"]
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
        hpa = kube.get("autoscaling", "horizontalpodautoscalers", "default", "vllm-gemma-hpa")
        assert [c for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive"][0]["status"] == "True"
    config = gcp.emu.kube["container:projects/test-project-1/locations/us-east5-b/clusters/gke-us-east5"]
    imported = config.get("networking.gke.io", "gcpinferencepoolimports", "default", "gemma-pool")
    assert sorted(c["region"] for c in imported["status"]["clusters"]) == ["europe-west4", "us-east5"]
    gateway = config.get("gateway.networking.k8s.io", "gateways", "default", "cross-region-gateway")
    assert [c["status"] for c in gateway["status"]["conditions"] if c["type"] == "Programmed"] == ["True"]
    assert sorted(a["value"] for a in gateway["status"]["addresses"]) == ["10.0.1.2", "10.0.2.2"]
    policy = config.get("networking.gke.io", "gcpbackendpolicies", "default", "gemma-backend-policy")
    assert policy["spec"]["default"]["customMetrics"][0] == {
        "name": "gke.named_metrics.tpu-cache", "dryRun": False, "maxUtilizationPercent": 60}
    objects = gcp.resources("storage:o/test-project-1-gemma-weights/google/gemma-3-27b-it/")
    assert any(k.endswith("/.download-complete") for k in objects) and len(objects) > 10
    assert "hf_emulatorTokenNotASecret" not in out  # the Hugging Face token never shows
    assert "gateway 10.0.1.2, 10.0.2.2 Programmed" in out  # the verification summary
    # the download started early and collected later is reported complete, on the config region only
    assert out.count("model weights complete in gs://test-project-1-gemma-weights/google/gemma-3-27b-it") == 1
    # kubeconfigs (they hold a token) are written where the inventory says, never into the checkout
    assert not os.path.exists(os.path.join(ROOT, "playbooks", ".kube"))
    assert os.path.exists(os.path.join(inv, "..", "..", ".emulator", "kube", "gke-us-east5"))

    # The long phases overlap: the download starts before the fleet, the gateway before the model servers.
    first = first_calls(gcp)
    assert first["nodePools"] < first["jobs"] < first["memberships"] < first["gateways"] < first["deployments"], first

    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv)
    assert code == 0, out
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert gcp.requests(mutating=True) == []  # not one mutating API call on the re-run (Google or Kubernetes)
    assert "hf_emulatorTokenNotASecret" not in out


def first_calls(gcp):
    """When the first mutating call of each kind of the deployment reached the emulator."""
    marks = {"nodePools": "/nodePools", "memberships": "/memberships", "jobs": "/jobs",
             "deployments": "/deployments", "gateways": "/gateways"}
    first = {}
    for entry in gcp.requests(mutating=True):
        for name, part in marks.items():
            if entry["path"].endswith(part) or (part + "/") in entry["path"]:
                first.setdefault(name, entry["time"])
    assert set(first) == set(marks), first
    return first


def test_codelab_order_then_overlapped_rerun_changes_nothing(gcp, tmp_path):
    """gke_overlap_phases=false runs one phase after the other and builds the same deployment."""
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv, "-e", "gke_overlap_phases=false")
    assert code == 0, out
    first = first_calls(gcp)
    assert first["nodePools"] < first["jobs"] < first["memberships"] < first["deployments"] < first["gateways"], first
    assert "node pool done within" not in out
    assert out.count("model weights complete in gs://") == 1
    gcp.control("DELETE", "requests")
    code, out = playbook(gcp, inv)
    assert code == 0, out
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert gcp.requests(mutating=True) == []


def test_check_mode_creates_nothing(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv, "--check")
    assert code == 0, out
    assert recap(out)["gke-europe-west4"]["changed"] > 0
    assert gcp.resources("compute:") == {} and gcp.resources("storage:") == {}
    assert "model weights complete" not in out  # check mode downloads nothing and never says otherwise


def test_three_regions(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, extra_groups={"asia_southeast1": ("gke-asia-southeast1", {
        "gcp_region": "asia-southeast1", "gcp_zone": "asia-southeast1-b",
        "network_node_subnet_cidr": "10.0.3.0/24", "network_proxy_subnet_cidr": "10.1.3.0/24"})})
    code, out = playbook(gcp, inv)
    assert code == 0, out
    assert gcp.resource("compute:projects/test-project-1/regions/asia-southeast1/subnetworks/"
                        "tpu-gke-dranet-proxy-subnet-asia-southeast1")["ipCidrRange"] == "10.1.3.0/24"
    assert len(gcp.resources("compute:projects/test-project-1/regions/")) == 9


def test_bad_inventory_reports_every_problem_and_creates_nothing(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, overrides={
        "europe_west4": {"gcp_zone": "us-east5-b", "network_proxy_subnet_cidr": "10.1.2.0/25"},
        "us_east5": {"network_node_subnet_cidr": "10.0.2.300/24"},
    })
    code, out = playbook(gcp, inv)
    assert code != 0
    assert "gke-europe-west4: gcp_zone: zone 'us-east5-b' is not in region 'europe-west4'" in out
    assert "gke-us-east5: network_node_subnet_cidr: '10.0.2.300/24' is not a valid IPv4 CIDR" in out
    assert ("gke-europe-west4 network_proxy_subnet_cidr (10.1.2.0/25) overlaps gke-us-east5 "
            "network_proxy_subnet_cidr (10.1.2.0/24)") in out
    assert gcp.requests(mutating=True) == [] and gcp.resources("compute:") == {}


@pytest.mark.parametrize("value,message", [
    ("", "gcp_project_id is required"),
    ("Bad_Project", "is not a valid project id"),
])
def test_missing_or_bad_project(gcp, tmp_path, value, message):
    inv = local_inventory(tmp_path, gcp, overrides={"all": {"gcp_project_id": value}})
    code, out = playbook(gcp, inv)
    assert code != 0 and message in out
    assert gcp.requests(mutating=True) == []


def test_gpu_profile(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, overrides={"all": {"gke_accelerator_profile": "gpu_h100"}})
    code, out = playbook(gcp, inv)
    assert code == 0, out
    cluster = gcp.resource("container:projects/test-project-1/locations/us-east5-b/clusters/gke-us-east5")
    pool = [p for p in cluster["nodePools"] if p["name"] == "gpu-h100-pool"][0]
    assert pool["config"]["machineType"] == "a3-highgpu-2g" and pool["config"]["spot"] is True
    assert pool["autoscaling"] == {"enabled": True, "minNodeCount": 1, "maxNodeCount": 3}
    assert pool["networkConfig"]["acceleratorNetworkProfile"] == "auto"


def test_config_cluster_not_in_inventory(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, overrides={"all": {"gke_config_region": "asia-east1"}})
    code, out = playbook(gcp, inv)
    assert code != 0 and "gke_config_region: asia-east1 must be the gcp_region of exactly one host" in out  # preflight
    assert gcp.requests(mutating=True) == []
    code, out = playbook(gcp, inv, "-e", "gke_skip_preflight=true")  # the fleet role checks it too
    assert code != 0 and "'asia-east1' is not the region of any host of the play" in out
    assert gcp.resources("gkehub:") == {}
