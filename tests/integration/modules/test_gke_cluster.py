"""gke_cluster against the emulator."""

import pytest

KEY = "container:projects/test-project-1/locations/europe-west4-a/clusters/gke-a"


@pytest.fixture
def net(gcp):
    gcp.run("compute_network", name="vpc", mtu=8896)
    gcp.run("compute_subnetwork", name="nodes", region="europe-west4", network="vpc", ip_cidr_range="10.0.1.0/24")
    return gcp


def cluster(gcp, **kw):
    args = dict(name="gke-a", location="europe-west4-a", network="vpc", subnetwork="nodes")
    args.update(kw)
    return gcp.run("gke_cluster", **args)


def test_cluster_lifecycle(net):
    gcp = net
    assert cluster(gcp, check=True)["changed"] and gcp.resource(KEY) is None
    created = cluster(gcp)
    assert created["changed"] and created["cluster"]["status"] == "RUNNING", created
    stored = gcp.resource(KEY)
    assert stored["networkConfig"]["datapathProvider"] == "ADVANCED_DATAPATH"
    assert stored["networkConfig"]["gatewayApiConfig"]["channel"] == "CHANNEL_STANDARD"
    assert stored["addonsConfig"]["gcsFuseCsiDriverConfig"]["enabled"] is True
    assert stored["workloadIdentityConfig"]["workloadPool"] == "test-project-1.svc.id.goog"
    assert stored["monitoringConfig"]["managedPrometheusConfig"]["enabled"] is True
    assert stored["podAutoscaling"]["hpaProfile"] == "PERFORMANCE"
    pool = stored["nodePools"][0]
    assert pool["config"]["machineType"] == "e2-standard-16"
    assert pool["config"]["workloadMetadataConfig"]["mode"] == "GKE_METADATA"
    gcp.control("DELETE", "requests")
    assert not cluster(gcp)["changed"]
    assert gcp.requests(mutating=True) == []

    # two mutable settings: two update calls (GKE applies one per call)
    updated = cluster(gcp, release_channel="REGULAR", gcs_fuse_csi_driver=False)
    assert updated["changed"], updated
    updates = [r for r in gcp.requests() if r["method_id"] == "container.projects.locations.clusters.update"]
    assert len(updates) == 2
    assert gcp.resource(KEY)["releaseChannel"]["channel"] == "REGULAR"
    assert not cluster(gcp, release_channel="REGULAR", gcs_fuse_csi_driver=False)["changed"]

    immutable = cluster(gcp, datapath_provider="LEGACY_DATAPATH", release_channel="REGULAR", gcs_fuse_csi_driver=False)
    assert immutable["failed"] and "network_config.datapath_provider" in immutable["msg"]

    assert cluster(gcp, state="absent")["changed"]
    assert gcp.resource(KEY) is None
    assert not cluster(gcp, state="absent")["changed"]


def test_operation_in_progress_is_waited_out(net):
    gcp = net
    cluster(gcp)
    gcp.fault("container.projects.locations.clusters.update", status=400, count=2, grpc_status="FAILED_PRECONDITION",
              message="Cluster is running incompatible operation operation-123.")
    assert cluster(gcp, release_channel="STABLE")["changed"]


def test_operation_timeout_then_the_next_run_waits_for_it(net):
    """A run that stops while GKE still creates the cluster (a timeout here, a killed controller in real life):
    the next run waits for that operation and goes on with a RUNNING cluster instead of passing a PROVISIONING
    one to the node pool."""
    gcp = net
    gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 1500}})
    try:
        result = cluster(gcp, timeout=1)
        assert result["failed"] and "still running after 1 s" in result["msg"]
        assert gcp.resource(KEY)["status"] == "PROVISIONING"
        resumed = cluster(gcp)
    finally:
        gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 480}})
    assert not resumed["changed"] and resumed["cluster"]["status"] == "RUNNING", resumed
    assert gcp.resource(KEY)["status"] == "RUNNING"


def test_missing_network_is_refused(gcp):
    result = cluster(gcp)
    assert result["failed"] and "does not exist" in result["msg"]


def test_kubeconfig_without_gcloud(net, tmp_path):
    gcp = net
    cluster(gcp)
    path = tmp_path / "kube" / "config"
    result = gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(path))
    assert not result["changed"] and result["context"] == "gke_test-project-1_europe-west4-a_gke-a"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    import json
    config = json.loads(path.read_text())
    token = config["users"][0]["user"]["token"]
    assert token.startswith("ya29.emulator-") and token in gcp.emu.tokens  # a real token from the SA flow
    assert token not in json.dumps(result)
    assert config["clusters"][0]["cluster"]["server"] == result["host"]
    missing = gcp.run("gke_kubeconfig", cluster="nope", location="europe-west4-a", path=str(path))
    assert missing["failed"] and "does not exist" in missing["msg"]
