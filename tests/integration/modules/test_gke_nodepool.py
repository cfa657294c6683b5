"""gke_tpu_nodepool_dranet against the emulator."""

import pytest

from conftest import staged
from emulator.core import ApiError

CLUSTER = "container:projects/test-project-1/locations/us-east5-b/clusters/gke-us"


def _cluster(gcp):
    gcp.run("compute_network", name="vpc", mtu=8896)
    gcp.run("compute_subnetwork", name="nodes", region="us-east5", network="vpc", ip_cidr_range="10.0.2.0/24")
    assert gcp.run("gke_cluster", name="gke-us", location="us-east5-b", network="vpc", subnetwork="nodes")["changed"]


@pytest.fixture
def gke(gcp):
    return staged(gcp, "nodepool-cluster", _cluster)  # built once, then loaded from a snapshot


def pool(gcp, **kw):
    args = dict(name="tpu-v6e-pool", cluster="gke-us", location="us-east5-b")
    args.update(kw)
    return gcp.run("gke_tpu_nodepool_dranet", **args)


def stored_pool(gcp, name):
    return next((p for p in gcp.resource(CLUSTER)["nodePools"] if p["name"] == name), None)


def test_tpu_pool_with_dranet(gke):
    gcp = gke
    assert pool(gcp, check=True)["changed"] and stored_pool(gcp, "tpu-v6e-pool") is None
    created = pool(gcp)
    assert created["changed"] and created["node_pool"]["status"] == "RUNNING", created
    assert created["node_labels"] == {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
                                      "cloud.google.com/gke-tpu-topology": "2x2"}
    stored = stored_pool(gcp, "tpu-v6e-pool")
    assert stored["config"]["machineType"] == "ct6e-standard-4t"
    assert stored["networkConfig"]["acceleratorNetworkProfile"] == "auto"
    assert stored["config"]["labels"]["cloud.google.com/gke-networking-dra-driver"] == "true"
    assert stored["config"]["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
    assert not pool(gcp)["changed"]
    resized = pool(gcp, node_count=2)
    assert resized["changed"] and stored_pool(gcp, "tpu-v6e-pool")["initialNodeCount"] == 2
    assert not pool(gcp, node_count=2)["changed"]
    moved = pool(gcp, node_count=2, machine_type="ct6e-standard-8t")
    assert moved["failed"] and "config.machine_type" in moved["msg"] and "Create a new node pool" in moved["msg"]
    assert pool(gcp, state="absent")["changed"] and stored_pool(gcp, "tpu-v6e-pool") is None


def test_gpu_pool_spot_and_autoscaling(gke):
    gcp = gke
    args = dict(name="gpu-pool", machine_type="a3-highgpu-2g", spot=True,
                autoscaling={"min_node_count": 1, "max_node_count": 3})
    created = pool(gcp, **args)
    assert created["changed"], created
    stored = stored_pool(gcp, "gpu-pool")
    assert stored["config"]["accelerators"][0]["acceleratorType"] == "nvidia-h100-80gb"
    assert int(stored["config"]["accelerators"][0]["acceleratorCount"]) == 2
    assert stored["config"]["accelerators"][0]["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "LATEST"
    assert stored["config"]["spot"] is True and stored["autoscaling"]["maxNodeCount"] == 3
    # managed DRANET is not available on the A3 High types: unset, the pool is made without it
    assert "acceleratorNetworkProfile" not in stored.get("networkConfig", {})
    assert "cloud.google.com/gke-networking-dra-driver" not in stored["config"].get("labels", {})
    assert not pool(gcp, **args)["changed"]
    wider_args = dict(args)
    wider_args["autoscaling"] = {"min_node_count": 1, "max_node_count": 5}
    wider = pool(gcp, **wider_args)
    assert wider["changed"] and stored_pool(gcp, "gpu-pool")["autoscaling"]["maxNodeCount"] == 5


@pytest.mark.parametrize("args,field", [
    ({"tpu_topology": "4x4x4"}, "tpu_topology"),
    ({"machine_type": "ct6e-standard-1t", "tpu_topology": "2x2"}, "tpu_topology"),
    ({"tpu_topology": "4x4", "node_count": 2}, "node_count"),
    ({"machine_type": "a3-highgpu-2g", "gpu_count": 4}, "gpu_count"),
    ({"machine_type": "a3-highgpu-2g", "gpu_type": "nvidia-l4"}, "gpu_type"),
    ({"machine_type": "n2-standard-8"}, "machine_type"),
    ({"machine_type": "a3-highgpu-2g", "autoscaling": {"min_node_count": 4, "max_node_count": 2}}, "autoscaling"),
    ({"machine_type": "a3-highgpu-2g", "dranet": True}, "dranet: GKE-managed DRANET is not available on a3-highgpu-2g"),
])
def test_bad_shapes_fail_before_any_call(gke, args, field):
    gcp = gke
    gcp.control("DELETE", "requests")
    result = pool(gcp, **args)
    assert result["failed"] and field in result["msg"], result
    assert gcp.requests() == []


def test_the_api_refuses_dranet_where_gke_has_none(gke):
    """The emulator refuses what GKE documents as unsupported, even when a caller skips the module's check."""
    gcp = gke
    body = {"nodePool": {"name": "gpu", "config": {"machineType": "a3-highgpu-2g", "accelerators": [
        {"acceleratorType": "nvidia-h100-80gb", "acceleratorCount": "2"}]}, "initialNodeCount": 1,
        "networkConfig": {"acceleratorNetworkProfile": "auto"}}}
    gcp.emu.tokens.add("ya29.test")
    with pytest.raises(ApiError) as refused:
        with gcp.emu.lock:
            gcp.emu.dispatch("POST", "/v1/%s/nodePools" % CLUSTER.split(":", 1)[1], {}, body,
                             {"authorization": "Bearer ya29.test"})
    assert refused.value.code == 400 and "not supported for machine type a3-highgpu-2g" in str(refused.value)


def test_a_pool_left_provisioning_by_an_interrupted_run_is_waited_for(gke):
    gcp = gke
    gcp.fault("container.projects.locations.clusters.nodePools.create", stall_seconds=60,
              condition={"code": "UNKNOWN", "message": "Nodes are starting."})
    first = pool(gcp, timeout=1)
    assert first["failed"] and "still running after 1 s" in first["msg"], first
    assert stored_pool(gcp, "tpu-v6e-pool")["status"] == "PROVISIONING"
    gcp.end_operations()  # now: 60 s kept it running however slowly the first call looked
    resumed = pool(gcp)
    assert not resumed["changed"] and resumed["node_pool"]["status"] == "RUNNING", resumed


def test_stockout_fails_fast_with_advice(gke):
    gcp = gke
    gcp.fault("container.projects.locations.clusters.nodePools.create", condition={
        "code": "GCE_STOCKOUT", "message": "[GCE_STOCKOUT] The zone 'us-east5-b' does not have enough resources "
                                           "available to fulfill the request."}, stall_seconds=36000)
    result = pool(gcp, timeout=120)
    assert result["failed"], result
    assert "us-east5-b has no capacity for ct6e-standard-4t" in result["msg"]
    assert "us-east5-a" in result["msg"] and "reservation" in result["msg"]


def test_quota_error_names_the_quota(gke):
    gcp = gke
    message = 'Insufficient regional quota to satisfy request: resource "TPU_V6E": request requires 4.0 and is short 4.0.'
    gcp.fault("container.projects.locations.clusters.nodePools.create",
              operation_error={"code": "GCE_QUOTA_EXCEEDED", "message": message})
    result = pool(gcp)
    assert result["failed"] and "Quota exhausted" in result["msg"], result


def test_nodes_run_as_their_own_service_account(gke):
    """GKE refuses a node service account that does not exist; the pool keeps the one it was created with
    (a different one is an immutable change), and a pool without one runs as the Compute Engine default."""
    gcp = gke
    email = "gke-inference-nodes@test-project-1.iam.gserviceaccount.com"
    missing = pool(gcp, service_account=email)
    assert missing["failed"] and "does not exist" in missing["msg"], missing
    assert stored_pool(gcp, "tpu-v6e-pool") is None
    assert gcp.run("iam_service_account", account_id="gke-inference-nodes")["changed"]
    assert pool(gcp, service_account=email)["changed"]
    assert stored_pool(gcp, "tpu-v6e-pool")["config"]["serviceAccount"] == email
    assert not pool(gcp, service_account=email)["changed"]
    other = pool(gcp)
    assert other["failed"] and "config.service_account" in other["msg"], other
    assert stored_pool(gcp, "default-pool")["config"]["serviceAccount"] == "default"
