"""inference_gateway against an emulated config cluster (its Kubernetes API over TLS)."""

import base64
import json

import pytest

from emulator.kube import KubeCluster

P = "test-project-1"
CLUSTER = "container:projects/%s/locations/us-east5-b/clusters/gke-us-east5" % P
ADDRESSES = [{"region": "europe-west4", "name": "gw-eu"}, {"region": "us-east5", "name": "gw-us"}]


@pytest.fixture
def config_cluster(gcp, tmp_path):
    """A config cluster of the fleet, an exported pool in it, addresses and proxy-only subnets."""
    emu = gcp.emu
    with emu.lock:
        cluster = {"name": "gke-us-east5", "network": "vpc", "nodePools": [], "addonsConfig": {}}
        emu.store[CLUSTER] = cluster
        kube = KubeCluster(emu, CLUSTER, cluster)
        emu.kube[CLUSTER] = kube
        hub = "gkehub:projects/%s/locations/global/" % P
        emu.store[hub + "memberships/gke-us-east5"] = {"endpoint": {"gkeCluster": {
            "resourceLink": "//container.googleapis.com/" + CLUSTER.split(":", 1)[1]}}}
        emu.store[hub + "features/multiclusteringress"] = {"spec": {"multiclusteringress": {
            "configMembership": "projects/%s/locations/global/memberships/gke-us-east5" % P}}}
        emu.store[hub + "features/multiclusterservicediscovery"] = {}
        for region, name, ip, proxy in (("europe-west4", "gw-eu", "10.0.1.2", "10.129.0.0/23"),
                                        ("us-east5", "gw-us", "10.0.2.2", "10.129.2.0/23")):
            emu.store["compute:projects/%s/regions/%s/addresses/%s" % (P, region, name)] = {
                "name": name, "addressType": "INTERNAL", "purpose": "GCE_ENDPOINT", "address": ip}
            emu.store["compute:projects/%s/regions/%s/subnetworks/proxy" % (P, region)] = {
                "purpose": "GLOBAL_MANAGED_PROXY", "ipCidrRange": proxy, "network": "https://x/projects/%s/global/networks/vpc" % P}
        kube.put("inference.networking.k8s.io", "inferencepools", {
            "metadata": {"name": "gemma-pool", "namespace": "default",
                         "annotations": {"networking.gke.io/export": "True"}},
            "spec": {"selector": {"matchLabels": {"app": "gemma-server"}}, "targetPorts": [{"number": 8000}]}})
    token = "ya29.test-kube-token"
    emu.tokens.add(token)
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:%d" % kube.port,
                                               "certificate-authority-data": base64.b64encode(kube.ca_pem).decode()}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return kube, str(path)


def run(gcp, kubeconfig, check=False, **args):
    args.setdefault("addresses", ADDRESSES)
    # A test that waits fails within a minute instead of hanging for the defaults (15 minutes and more)
    args.setdefault("import_timeout", 30)
    args.setdefault("programmed_timeout", 30)
    return gcp.run("inference_gateway", check=check, auth=False, project=None, api_endpoint=None,
                   kubeconfig=kubeconfig, poll_interval=0.05, **args)


def test_check_mode_then_create_then_idempotent(gcp, config_cluster):
    kube, kubeconfig = config_cluster
    result = run(gcp, kubeconfig, check=True, backend_policy={"preferred_region": "us-east5"})
    assert result["changed"] and not result.get("failed"), result
    assert kube.get("gateway.networking.k8s.io", "gateways", "default", "cross-region-gateway") is None
    assert "Gateway/cross-region-gateway" in result["diff"]["after"]

    result = run(gcp, kubeconfig, backend_policy={"preferred_region": "us-east5"})
    assert result["changed"] and result["programmed"] and result["pool_import"], result
    assert sorted(a["ip"] for a in result["addresses"]) == ["10.0.1.2", "10.0.2.2"]
    assert [o["action"] for o in result["objects"]] == ["created"] * 4
    policy = kube.get("networking.gke.io", "gcpbackendpolicies", "default", "gemma-backend-policy")
    assert policy["spec"]["default"]["scopes"] == [{"selector": {"gke.io/region": "us-east5"},
                                                    "backendPreference": "PREFERRED"}]
    health = kube.get("networking.gke.io", "healthcheckpolicies", "default", "gemma-health-check")
    assert health["spec"]["default"]["checkIntervalSec"] == 2 and health["spec"]["targetRef"]["kind"] == \
        "GCPInferencePoolImport"
    # applied as kubernetes.core.k8s (apply: true) applies the roles' objects: its last-applied annotation
    applied = json.loads(policy["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert applied["spec"]["default"]["scopes"] == policy["spec"]["default"]["scopes"]

    result = run(gcp, kubeconfig, backend_policy={"preferred_region": "us-east5"})
    assert not result["changed"] and result["programmed"], result

    result = run(gcp, kubeconfig, backend_policy={"preferred_region": "us-east5", "max_utilization_percent": 70})
    assert result["changed"] and result["objects"][3]["action"] == "updated"
    assert result["diff"]["after"]["GCPBackendPolicy/gemma-backend-policy"]["spec"]["default"]["customMetrics"][0][
        "maxUtilizationPercent"] == 70


def test_what_the_collection_stops_setting_is_removed(gcp, config_cluster):
    """Desired state is enforced: clearing preferred_region removes the PREFERRED scope (a merge patch kept it and
    reported no change), and a field someone else set on the object stays."""
    kube, kubeconfig = config_cluster
    assert run(gcp, kubeconfig, backend_policy={"preferred_region": "us-east5"})["changed"]
    key = ("networking.gke.io", "gcpbackendpolicies", "default", "gemma-backend-policy")
    with gcp.emu.lock:
        kube.objects[key]["metadata"].setdefault("labels", {})["team"] = "platform"  # another manager's field
    result = run(gcp, kubeconfig, backend_policy={"preferred_region": ""})
    assert result["changed"] and result["objects"][3]["action"] == "updated", result
    policy = kube.get(*key)
    assert "scopes" not in policy["spec"]["default"], policy["spec"]
    assert policy["metadata"]["labels"]["team"] == "platform"
    assert not run(gcp, kubeconfig, backend_policy={"preferred_region": ""})["changed"]


def test_the_pool_import_is_found_in_whichever_version_the_cluster_serves(gcp, config_cluster):
    """GKE documents GCPInferencePoolImport's group (networking.gke.io), never its version: the module finds the
    kind through API discovery, so a cluster that serves it as v1alpha1 works too."""
    kube, kubeconfig = config_cluster
    with gcp.emu.lock:
        kube.kinds[("networking.gke.io", "gcpinferencepoolimports")].versions = ["v1alpha1"]
    result = run(gcp, kubeconfig)
    assert result["changed"] and result["pool_import"] and result["programmed"], result


def test_a_version_change_after_an_earlier_run_is_seen(gcp, config_cluster):
    """The kubernetes client keeps API discovery in a file per API server address, for ever. A CRD whose served
    version changed since an earlier run (a GKE upgrade) must still be found: a stale discovery once made the
    module wait for the pool import until import_timeout."""
    kube, kubeconfig = config_cluster
    assert run(gcp, kubeconfig)["pool_import"]
    with gcp.emu.lock:
        kube.kinds[("networking.gke.io", "gcpinferencepoolimports")].versions = ["v1alpha1"]
    result = run(gcp, kubeconfig, import_timeout=3)
    assert not result.get("failed") and result["pool_import"] and result["programmed"], result


def test_absent_removes_everything_and_is_idempotent(gcp, config_cluster):
    kube, kubeconfig = config_cluster
    assert run(gcp, kubeconfig)["changed"]
    result = run(gcp, kubeconfig, state="absent")
    assert result["changed"] and [o["action"] for o in result["objects"]] == ["deleted"] * 4
    assert kube.list("gateway.networking.k8s.io", "gateways") == []
    assert not run(gcp, kubeconfig, state="absent")["changed"]


def test_missing_pool_import_says_what_to_check(gcp, config_cluster):
    kube, kubeconfig = config_cluster
    kube.remove("inference.networking.k8s.io", "inferencepools", "default", "gemma-pool")
    result = run(gcp, kubeconfig, import_timeout=1)
    assert result["failed"] and "did not appear on the config cluster within 1 s" in result["msg"]
    assert "networking.gke.io/export" in result["msg"]


def test_unprogrammable_gateway_reports_the_reason(gcp, config_cluster):
    kube, kubeconfig = config_cluster
    gcp.emu.store.pop("compute:projects/%s/regions/us-east5/subnetworks/proxy" % P)
    result = run(gcp, kubeconfig, programmed_timeout=1)
    assert result["failed"] and "is not Programmed after 1 s" in result["msg"]
    assert "region us-east5 has no GLOBAL_MANAGED_PROXY subnet" in result["msg"]


@pytest.mark.parametrize("args,message", [
    ({"backend_policy": {"max_utilization_percent": 0}}, "backend_policy.max_utilization_percent: 0 is outside 1-100"),
    ({"backend_policy": {"preferred_region": "asia-east1"}}, "preferred_region: asia-east1 is not one of"),
    ({"health_check": {"check_interval_sec": 2, "timeout_sec": 5}}, "health_check.timeout_sec: 5 must be between 1"),
    ({"health_check": {"unhealthy_threshold": 11}}, "health_check.unhealthy_threshold: 11 is outside 1-10"),
    ({"addresses": []}, "addresses: give one reserved address per region"),
])
def test_bad_parameters_apply_nothing(gcp, config_cluster, args, message):
    kube, kubeconfig = config_cluster
    result = run(gcp, kubeconfig, **args)
    assert result["failed"] and message in result["msg"], result
    assert kube.list("gateway.networking.k8s.io", "gateways") == []
