"""site.yml on fresh emulated projects: what the shared platform of test_site.py cannot show (another
order, region count and accelerator profile; check mode on an empty project; inventories that must be
refused before anything is created)."""

import getpass
import os
import re
import time

import pytest

from helpers import failed, first_calls, local_inventory, playbook, recap

THIRD_REGION = {"asia_southeast1": ("gke-asia-southeast1", {
    "gcp_region": "asia-southeast1", "gcp_zone": "asia-southeast1-b",
    "network_node_subnet_cidr": "10.0.3.0/24", "network_proxy_subnet_cidr": "10.1.3.0/24"})}


def test_codelab_order_three_regions_gpu_then_overlapped_rerun_changes_nothing(gcp, tmp_path):
    """gke_overlap_phases=false runs one phase after the other and builds the same deployment as the overlapped
    order (its re-run changes nothing); N regions work (here 3); the H100 GPU profile of seed 003; hardened
    networking: private nodes (their downloads leave through each region's Cloud NAT) and a control plane that
    accepts only the controller's network."""
    inv = local_inventory(tmp_path, gcp, extra_groups=THIRD_REGION, overrides={"all": {
        "gke_accelerator_profile": "gpu_h100", "gke_private_nodes": True,
        "gke_authorized_networks": [{"cidr_block": "127.0.0.1/32", "display_name": "controller"}]}})
    # a progress line every second (a minute by default) during the long waits; cluster creation takes 6 s here
    # (3 s left too few ticks on a busy machine for one line to be sure)
    gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 6 / gcp.emu.latency_scale}})
    code, out = playbook(gcp, inv, "-e", "gke_overlap_phases=false", env={"GKE_INFERENCE_PROGRESS_INTERVAL": "1"})
    assert code == 0, failed(out)
    assert re.search(r"^gke-asia-southeast1: create cluster gke-asia-southeast1 in asia-southeast1-b - RUNNING, \d+s$",
                     out, re.M), out
    assert "Time per phase:" in out and re.search(r"^Model servers and inference pools, all regions concurrently +\d", out, re.M)
    first = first_calls(gcp)
    assert first["nodePools"] < first["jobs"] < first["memberships"] < first["deployments"] < first["gateways"], first
    assert "node pool done within" not in out
    assert out.count("model weights complete in gs://") == 1
    # three regions
    assert gcp.resource("compute:projects/test-project-1/regions/asia-southeast1/subnetworks/"
                        "tpu-gke-dranet-proxy-subnet-asia-southeast1")["ipCidrRange"] == "10.1.3.0/24"
    assert len(gcp.resources("compute:projects/test-project-1/regions/")) == 12  # subnets, address, router
    for region in ("us-east5", "europe-west4", "asia-southeast1"):
        router = gcp.resource("compute:projects/test-project-1/regions/%s/routers/tpu-gke-dranet-vpc-nat-%s"
                              % (region, region))
        assert [n["sourceSubnetworkIpRangesToNat"] for n in router["nats"]] == ["ALL_SUBNETWORKS_ALL_IP_RANGES"]
    gateway = gcp.emu.kube["container:projects/test-project-1/locations/us-east5-b/clusters/gke-us-east5"].get(
        "gateway.networking.k8s.io", "gateways", "default", "cross-region-gateway")
    assert sorted(a["value"] for a in gateway["status"]["addresses"]) == ["10.0.1.2", "10.0.2.2", "10.0.3.2"]
    # the GPU profile
    for region, zone in (("us-east5", "us-east5-b"), ("asia-southeast1", "asia-southeast1-b")):
        key = "container:projects/test-project-1/locations/%s/clusters/gke-%s" % (zone, region)
        pool = [p for p in gcp.resource(key)["nodePools"] if p["name"] == "gpu-h100-pool"][0]
        assert pool["config"]["machineType"] == "a3-highgpu-2g" and pool["config"]["spot"] is True
        assert pool["autoscaling"] == {"enabled": True, "minNodeCount": 1, "maxNodeCount": 3}
        assert "acceleratorNetworkProfile" not in pool.get("networkConfig", {})  # no managed DRANET on A3 High
        assert all(p["networkConfig"]["enablePrivateNodes"] for p in gcp.resource(key)["nodePools"])
        assert gcp.resource(key)["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["authorizedNetworksConfig"][
            "cidrBlocks"] == [{"cidrBlock": "127.0.0.1/32", "displayName": "controller"}]
        kube = gcp.emu.kube[key]
        container = kube.get("apps", "deployments", "default", "vllm-gemma")["spec"]["template"]["spec"][
            "containers"][0]
        assert container["resources"]["limits"] == {"nvidia.com/gpu": 2}
        # what the workload role's Molecule verify checks, with the GPU profile (was the workload_gpu scenario)
        pods = [p for p in kube.list("", "pods", "default") if p["metadata"]["labels"].get("app") == "gemma-server"]
        assert len(pods) == 1 and pods[0]["status"]["phase"] == "Running", pods
        assert pods[0]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": 2}
        assert not pods[0]["status"].get("resourceClaimStatuses")  # no DRA claim on the GPU profile
        pool = kube.get("inference.networking.k8s.io", "inferencepools", "default", "gemma-pool")
        assert pool["metadata"]["annotations"]["networking.gke.io/export"] == "True"
        hpa = kube.get("autoscaling", "horizontalpodautoscalers", "default", "vllm-gemma-hpa")
        assert [c["status"] for c in hpa["status"]["conditions"] if c["type"] == "ScalingActive"] == ["True"]
        assert kube.get("autoscaling.gke.io", "autoscalingmetrics", "default", "kv-cache") is not None
        assert kube.get("autoscaling.gke.io", "autoscalingmetrics", "default", "tpu-cache") is None
        assert kube.get("inference.networking.x-k8s.io", "inferenceobjectives", "default", "gemma-objective")
    gcp.control("DELETE", "requests")
    # The re-run outlives its access tokens (Google's last an hour; here 18 s): the Kubernetes phases that
    # come after the clusters play wrote the kubeconfigs still reach the clusters (the kubeconfigs renew).
    # The kubeconfig's helper hands out a cached token while it has more than half its life left (9 s
    # here, 5 minutes with Google's): that margin has to cover a request's way into the emulator. With
    # 10-s tokens (a 5-s margin) this re-run failed once on a busy CI machine; the output that CI kept
    # did not say why, and a request slower than the margin is the likeliest cause.
    lifetime = 18
    gcp.control("POST", "config", {"token_lifetime": lifetime})
    started = time.time()
    try:
        code, out = playbook(gcp, inv)
    finally:
        gcp.control("POST", "config", {"token_lifetime": 3599})
    assert code == 0, failed(out)
    assert time.time() - started > lifetime + 2, "the re-run did not outlive the tokens"
    assert all(counts["changed"] == 0 for counts in recap(out).values()), out
    assert gcp.requests(mutating=True) == []
    # What the three regions share is looked at once, not by each region: the nodes' service account, and the
    # project's policy once for each of its three roles, the fleet's service agent and the metrics adapter.
    calls = [e["method_id"] for e in gcp.requests()]
    assert calls.count("iam.projects.serviceAccounts.get") == 1, calls
    assert calls.count("cloudresourcemanager.projects.getIamPolicy") == 3 + 1 + 1, calls


def test_check_mode_creates_nothing(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp)
    code, out = playbook(gcp, inv, "--check")
    assert code == 0, failed(out)
    assert recap(out)["gke-europe-west4"]["changed"] > 0
    assert gcp.resources("compute:") == {} and gcp.resources("storage:") == {}
    assert "model weights complete" not in out  # check mode downloads nothing and never says otherwise


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


def test_config_cluster_not_in_inventory(gcp, tmp_path):
    inv = local_inventory(tmp_path, gcp, overrides={"all": {"gke_config_region": "asia-east1"}})
    code, out = playbook(gcp, inv)
    assert code != 0 and "gke_config_region: asia-east1 must be the gcp_region of exactly one host" in out  # preflight
    assert gcp.requests(mutating=True) == []
    # the fleet role checks it too (its phase alone: the clusters do not exist, so nothing to look up)
    code, out = playbook(gcp, inv, "--tags", "fleet", "-e", "gke_skip_preflight=true", "-e",
                         "clusters_kubeconfig_missing_ok=true")
    assert code != 0 and "'asia-east1' is not the region of any host of inference_regions" in out
    assert gcp.resources("gkehub:") == {}


def test_a_node_pool_stockout_stops_the_run_before_the_gateway_and_the_model_servers(gcp, tmp_path):
    """A pool created in the background that hits a stockout fails the run at the next play (or the fleet step),
    with the module's advice, instead of when the workload play collects the pool: the gateway and the model
    servers are never created.

    The run has a HOME that is not the user's home in /etc/passwd, as in execution environments that set HOME
    (ansible-runner's image did; ansible/ansible#81805): the background pool's job must still be found."""
    gcp.fault("container.projects.locations.clusters.nodePools.create", stall_seconds=36000, condition={
        "code": "GCE_STOCKOUT", "message": "[GCE_STOCKOUT] The zone does not have enough resources available to "
                                           "fulfill the request."})
    home = tmp_path / "home"
    home.mkdir()
    assert str(home) != os.path.expanduser("~" + getpass.getuser())
    code, out = playbook(gcp, local_inventory(tmp_path, gcp), env={"HOME": str(home)})
    assert "could not find job" not in out, failed(out)
    assert code != 0 and "has no capacity for ct6e-standard-4t" in out, out[-3000:]
    assert "Stop now if the region's node pool has already failed" in out
    for kube in gcp.emu.kube.values():
        assert kube.list("gateway.networking.k8s.io", "gateways") == []
        assert kube.list("apps", "deployments", "default") == []
