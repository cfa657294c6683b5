"""GKE network isolation in the emulator (emulator/isolation.py): what it refuses, who reaches a control plane
restricted to authorized networks, and when pods on private nodes reach the internet."""

import pytest

from emulator import Emulator
from emulator.core import ApiError
from emulator.isolation import admits, check, internet_egress, merge, new_pool

P = "p"
CLUSTER = {"name": "c", "location": "us-east5-b", "network": "vpc", "subnetwork": "nodes",
           "networkConfig": {"defaultEnablePrivateNodes": True}}


def authorized(*blocks, enabled=True):
    return {"controlPlaneEndpointsConfig": {"ipEndpointsConfig": {"authorizedNetworksConfig": {
        "enabled": enabled, "cidrBlocks": [{"cidrBlock": b} for b in blocks]}}}}


@pytest.mark.parametrize("cluster,message", [
    (dict(authorized("10.0.0.0/8"), masterAuthorizedNetworksConfig={"enabled": True}),
     "both masterAuthorizedNetworksConfig and"),
    ({"networkConfig": {"defaultEnablePrivateNodes": True}, "privateClusterConfig": {"enablePrivateNodes": True}},
     "both privateClusterConfig.enablePrivateNodes and"),
    (authorized("10.0.0.0/33"), "is not a CIDR block"),
    (authorized(*["10.0.%d.0/24" % i for i in range(101)]), "at most 100 authorized networks"),
])
def test_what_gke_refuses(cluster, message):
    with pytest.raises(ApiError) as caught:
        check(cluster)
    assert caught.value.code == 400 and message in caught.value.message


def test_only_authorized_sources_reach_the_control_plane():
    assert admits({}, "198.51.100.7")
    assert admits(authorized("127.0.0.1/32"), "127.0.0.1")
    assert not admits(authorized("203.0.113.0/24"), "127.0.0.1")
    assert admits(authorized("203.0.113.0/24", enabled=False), "127.0.0.1")


def test_an_update_replaces_the_authorized_networks_and_keeps_what_it_omits():
    current = {"ipEndpointsConfig": {"enablePublicEndpoint": True, "authorizedNetworksConfig": {
        "enabled": True, "cidrBlocks": [{"cidrBlock": "10.0.0.0/8"}]}}}
    updated = merge(current, {"ipEndpointsConfig": {"authorizedNetworksConfig": {}}})
    assert updated == {"ipEndpointsConfig": {"enablePublicEndpoint": True, "authorizedNetworksConfig": {}}}


def test_private_nodes_reach_the_internet_only_through_a_nat_of_their_region():
    emu = Emulator(project=P)
    pools = [new_pool(CLUSTER, {"name": "default-pool"}), {"name": "public", "networkConfig": {"enablePrivateNodes": False}}]
    cluster = dict(CLUSTER, nodePools=pools)
    assert not internet_egress(emu, P, cluster, "default-pool")
    assert internet_egress(emu, P, cluster, "public")
    router = "compute:projects/%s/regions/%s/routers/r"
    emu.store[router % (P, "europe-west4")] = {"network": "https://x/projects/p/global/networks/vpc", "nats": [
        {"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]}
    assert not internet_egress(emu, P, cluster, "default-pool"), "a NAT in another region serves nothing here"
    emu.store[router % (P, "us-east5")] = {"network": "https://x/projects/p/global/networks/other", "nats": [
        {"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]}
    assert not internet_egress(emu, P, cluster, "default-pool"), "nor one on another network"
    emu.store[router % (P, "us-east5")]["network"] = "https://x/projects/p/global/networks/vpc"
    assert internet_egress(emu, P, cluster, "default-pool")


def test_the_download_on_private_nodes_needs_the_regions_cloud_nat():
    """The emulated Hugging Face download (kube_runtime.download) from a pod on a private node: it times out on
    huggingface.co without a Cloud NAT; with one it gets past the network (to the bucket's permission check)."""
    from emulator.kube import KubeCluster
    from emulator.kube_runtime import download

    emu = Emulator(latency_scale=0.0, project=P, project_number="1")
    key = "container:projects/%s/locations/us-east5-b/clusters/c" % P
    cluster = dict(CLUSTER, addonsConfig={}, nodePools=[new_pool(CLUSTER, {"name": "default-pool"})])
    emu.store[key] = cluster
    kube = KubeCluster(emu, key, cluster)
    try:
        kube.put("", "nodes", {"metadata": {"name": "n1", "labels": {"cloud.google.com/gke-nodepool": "default-pool"}}})
        container = {"name": "d", "volumeMounts": [{"name": "w", "mountPath": "/data"}]}
        pod = {"metadata": {"name": "job-1", "namespace": "default"},
               "spec": {"nodeName": "n1", "serviceAccountName": "downloader", "containers": [container],
                        "volumes": [{"name": "w", "csi": {"driver": "gcsfuse.csi.storage.gke.io",
                                                          "volumeAttributes": {"bucketName": "b"}}}]}}
        env = {"HF_MODEL_ID": "Qwen/Qwen3-0.6B", "MODEL_DIR": "/data/qwen"}
        logs = []
        assert not download(kube, pod, container, env, logs)
        assert "Connection to huggingface.co timed out" in logs[-1] and "no Cloud NAT" in logs[-1], logs
        emu.store["compute:projects/%s/regions/us-east5/routers/r" % P] = {
            "network": "https://x/projects/p/global/networks/vpc",
            "nats": [{"name": "n", "sourceSubnetworkIpRangesToNat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]}
        logs = []
        assert not download(kube, pod, container, env, logs)
        assert "Permission denied: storage.objects.create on bucket b" in logs[-1], logs
    finally:
        kube.stop()
