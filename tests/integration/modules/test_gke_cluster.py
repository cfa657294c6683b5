"""gke_cluster against the emulator."""

import json
import time

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as kube_config
from kubernetes.client.rest import ApiException

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
    gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 50000}})
    try:
        result = cluster(gcp, timeout=1)
        assert result["failed"] and "still running after 1 s" in result["msg"]
        assert gcp.resource(KEY)["status"] == "PROVISIONING"
        gcp.end_operations()
        resumed = cluster(gcp)
    finally:
        gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 480}})
    assert not resumed["changed"] and resumed["cluster"]["status"] == "RUNNING", resumed
    assert gcp.resource(KEY)["status"] == "RUNNING"


def test_started_without_waiting_then_waited(net):
    """wait false: the creation is accepted and the module returns at once (PROVISIONING, pending); a second
    call with wait false neither waits nor compares; the call that waits picks up the operation."""
    gcp = net
    gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 50000}})
    try:
        started = cluster(gcp, wait=False)
        assert started["changed"] and started["pending"] and started["cluster"]["status"] == "PROVISIONING", started
        again = cluster(gcp, wait=False)
        assert not again["changed"] and again["pending"], again
        creates = [r for r in gcp.requests() if r["method_id"] == "container.projects.locations.clusters.create"]
        assert len(creates) == 1
        gcp.end_operations()
        waited = cluster(gcp)
    finally:
        gcp.control("POST", "config", {"latency": {"container.projects.locations.clusters.create": 480}})
    assert not waited["changed"] and not waited["pending"] and waited["cluster"]["status"] == "RUNNING", waited
    assert waited["changes"] == []
    # an existing cluster: wait false compares and updates as wait true does
    assert not cluster(gcp, wait=False)["pending"]
    assert cluster(gcp, wait=False, release_channel="REGULAR")["changed"]
    assert gcp.resource(KEY)["releaseChannel"]["channel"] == "REGULAR"


def test_check_mode_without_waiting_leaves_nothing_pending(net):
    result = cluster(net, check=True, wait=False)
    assert result["changed"] and not result["pending"] and net.resource(KEY) is None, result


def test_a_creation_that_failed_while_not_waited_is_reported(net):
    """The creation fails (here a quota of the default pool) after a call that did not wait: the call that waits
    reports it with the API's message, and so does a later run that finds the cluster in ERROR."""
    gcp = net
    message = 'Insufficient regional quota to satisfy request: resource "CPUS": request requires 16.0 and is short 8.0.'
    gcp.fault("container.projects.locations.clusters.create",
              operation_error={"code": "GCE_QUOTA_EXCEEDED", "message": message})
    assert cluster(gcp, wait=False)["pending"]
    waited = cluster(gcp)
    assert waited["failed"] and "short 8.0" in waited["msg"], waited
    assert gcp.resource(KEY)["status"] == "ERROR"
    later = cluster(gcp)
    assert later["failed"] and "is in ERROR" in later["msg"] and "short 8.0" in later["msg"], later
    assert "Delete it" in later["msg"]
    assert cluster(gcp, state="absent")["changed"] and gcp.resource(KEY) is None


def test_missing_network_is_refused(gcp):
    result = cluster(gcp)
    assert result["failed"] and "does not exist" in result["msg"]


def test_kubeconfig_without_gcloud_renews_its_token(net, tmp_path):
    """The kubeconfig stays valid past the token's lifetime (a run longer than an hour): its exec entry runs the
    helper the module wrote, which gets a new token from the key file; nothing secret is in the file."""
    gcp = net
    cluster(gcp)
    path = tmp_path / "kube" / "config"
    # 6 s tokens: the helper renews one with less than half its life left, so 3 s is the margin a request has
    # between the helper and the API server on a busy machine (2 s tokens left 1 s, too little on CI)
    gcp.control("POST", "config", {"token_lifetime": 6})
    try:
        result = gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(path))
        assert not result["changed"] and result["context"] == "gke_test-project-1_europe-west4-a_gke-a"
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        text = path.read_text()
        config = json.loads(text)
        user = config["users"][0]["user"]
        assert "token" not in user and "ya29." not in text and "PRIVATE KEY" not in text
        assert user["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
        assert {"name": "GKE_INFERENCE_SERVICE_ACCOUNT_FILE", "value": gcp.key_file} in user["exec"]["env"]
        assert config["clusters"][0]["cluster"]["server"] == result["host"]
        namespaces = [namespace_names(path)]
        time.sleep(6.5)  # every token issued so far has expired
        namespaces.append(namespace_names(path))
        cached = json.loads((tmp_path / "kube" / "config.token").read_text())
        assert oct((tmp_path / "kube" / "config.token").stat().st_mode & 0o777) == "0o600"
        assert cached["token"] not in json.dumps(result)
    finally:
        gcp.control("POST", "config", {"token_lifetime": 3599})
    assert namespaces[0] == namespaces[1] and "default" in namespaces[0]
    missing = gcp.run("gke_kubeconfig", cluster="nope", location="europe-west4-a", path=str(path))
    assert missing["failed"] and "does not exist" in missing["msg"]


def test_a_token_in_the_kubeconfig_expires(net, tmp_path):
    """With an access token (nothing to renew from) the kubeconfig holds it, the module warns, and the emulated
    API server refuses it once it has expired, as GKE does."""
    gcp = net
    cluster(gcp)
    # long enough for the module run below on a busy machine (the check before expiry must not race it)
    lifetime = 6
    gcp.control("POST", "config", {"token_lifetime": lifetime})
    try:
        minted = gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(tmp_path / "k1"))
        from google.oauth2 import service_account  # pylint: disable=import-outside-toplevel
        from google.auth.transport.requests import Request  # pylint: disable=import-outside-toplevel
        credentials = service_account.Credentials.from_service_account_file(
            gcp.key_file, scopes=["https://www.googleapis.com/auth/cloud-platform"])
        credentials.refresh(Request())
        minted_at = time.time()  # after the token was issued: its life starts when the emulator answers
        token = credentials.token
        path = tmp_path / "k2"
        result = gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(path),
                         auth=False, auth_kind="accesstoken", access_token=token)
        assert not result.get("failed") and "expires in about an hour" in json.dumps(result.get("warnings")), result
        assert json.loads(path.read_text())["users"][0]["user"]["token"] == token
        assert "default" in namespace_names(path)
        time.sleep(max(0.0, minted_at + lifetime + 0.5 - time.time()))
        with pytest.raises(ApiException) as refused:
            namespace_names(path)
        assert refused.value.status == 401
    finally:
        gcp.control("POST", "config", {"token_lifetime": 3599})
    assert not minted.get("failed")


def namespace_names(path):
    client = kube_config.new_client_from_config(config_file=str(path))
    return sorted(n.metadata.name for n in k8s_client.CoreV1Api(client).list_namespace().items)


def test_labels_and_maintenance_window(net):
    """resource_labels and maintenance_window at creation, no change on a re-run, then each changed in place with
    its own call (the label fingerprint and the policy's resourceVersion just read); bad values fail before any
    call, naming the option."""
    gcp = net
    created = cluster(gcp, resource_labels={"team": "platform", "cost-center": "ml-42"}, maintenance_window="03:00")
    assert created["changed"], created
    stored = gcp.resource(KEY)
    assert stored["resourceLabels"] == {"team": "platform", "cost-center": "ml-42"}
    assert stored["maintenancePolicy"]["window"]["dailyMaintenanceWindow"]["startTime"] == "03:00"
    gcp.control("DELETE", "requests")
    assert not cluster(gcp, resource_labels={"team": "platform", "cost-center": "ml-42"}, maintenance_window="03:00")[
        "changed"]
    assert not gcp.requests(mutating=True)
    assert not cluster(gcp)["changed"]  # omitted: not managed
    planned = cluster(gcp, check=True, resource_labels={"team": "inference"}, maintenance_window="22:30")
    assert planned["changed"] and sorted(planned["changes"]) == ["maintenance_window", "resource_labels"]
    assert gcp.resource(KEY)["resourceLabels"]["team"] == "platform"  # check mode changed nothing
    changed = cluster(gcp, resource_labels={"team": "inference"}, maintenance_window="22:30")
    assert changed["changed"], changed
    stored = gcp.resource(KEY)
    assert stored["resourceLabels"] == {"team": "inference"}
    assert stored["maintenancePolicy"]["window"]["dailyMaintenanceWindow"]["startTime"] == "22:30"
    methods = [r["method_id"] for r in gcp.requests(mutating=True)]
    assert "container.projects.locations.clusters.setResourceLabels" in methods
    assert "container.projects.locations.clusters.setMaintenancePolicy" in methods
    before = len(gcp.requests())
    bad = cluster(gcp, resource_labels={"Team": "x", "ok": "Not Valid"}, maintenance_window="25:00")
    assert bad["failed"] and "resource_labels: key 'Team'" in bad["msg"] and "value 'Not Valid'" in bad["msg"]
    assert "maintenance_window: '25:00'" in bad["msg"] and len(gcp.requests()) == before


def test_private_nodes_and_authorized_networks(net, tmp_path):
    """Private nodes and the control plane's authorized networks at creation, no change on a re-run, the
    restriction changed in place; a machine outside the authorized networks is told so by gke_kubeconfig instead
    of every Kubernetes task hanging; an unset setting is not drift."""
    gcp = net
    mine = [{"cidr_block": "127.0.0.1/32", "display_name": "controller"}]
    created = cluster(gcp, private_nodes=True, authorized_networks=mine)
    assert created["changed"], created
    stored = gcp.resource(KEY)
    assert stored["networkConfig"]["defaultEnablePrivateNodes"] is True
    assert stored["nodePools"][0]["networkConfig"]["enablePrivateNodes"] is True
    assert stored["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["authorizedNetworksConfig"] == {
        "enabled": True, "cidrBlocks": [{"cidrBlock": "127.0.0.1/32", "displayName": "controller"}]}
    gcp.control("DELETE", "requests")
    assert not cluster(gcp, private_nodes=True, authorized_networks=mine)["changed"]
    assert not gcp.requests(mutating=True)
    kubeconfig = gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(tmp_path / "k"))
    assert not kubeconfig.get("failed"), kubeconfig
    assert "default" in namespace_names(tmp_path / "k")

    elsewhere = [{"cidr_block": "203.0.113.0/24"}]
    planned = cluster(gcp, private_nodes=True, authorized_networks=elsewhere, check=True)
    assert planned["changed"] and planned["changes"] == [
        "control_plane_endpoints_config.ip_endpoints_config.authorized_networks_config.cidr_blocks"], planned
    assert cluster(gcp, private_nodes=True, authorized_networks=elsewhere)["changed"]
    locked = gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(tmp_path / "k"))
    assert locked["failed"] and "accepts connections only from its authorized networks (203.0.113.0/24)" in \
        locked["msg"], locked

    # an empty list lifts the restriction; then it is what an unset restriction is, as private_nodes false is
    assert cluster(gcp, private_nodes=True, authorized_networks=[])["changed"]
    assert not gcp.run("gke_kubeconfig", cluster="gke-a", location="europe-west4-a", path=str(tmp_path / "k")).get(
        "failed")
    assert not cluster(gcp, private_nodes=True, authorized_networks=[])["changed"]
    assert cluster(gcp, name="gke-b", private_nodes=False, authorized_networks=[])["changed"]
    assert not cluster(gcp, name="gke-b", private_nodes=False, authorized_networks=[])["changed"]
    bad = cluster(gcp, name="gke-c", authorized_networks=[{"cidr_block": "10.0.0.1/8"}])
    assert bad["failed"] and "authorized_networks[0].cidr_block: '10.0.0.1/8'" in bad["msg"], bad
