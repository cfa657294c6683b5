"""fleet_membership and fleet_feature against the emulator."""

import pytest

from conftest import staged

HUB = "gkehub:projects/test-project-1/locations/global/"


@pytest.fixture
def clusters(gcp):
    return staged(gcp, "fleet-clusters", _clusters)  # built once, then loaded from a snapshot


def _clusters(gcp):
    gcp.run("compute_network", name="vpc", mtu=8896)
    for region, zone, cidr in (("europe-west4", "europe-west4-a", "10.0.1.0/24"), ("us-east5", "us-east5-b", "10.0.2.0/24")):
        gcp.run("compute_subnetwork", name="nodes", region=region, network="vpc", ip_cidr_range=cidr)
        assert gcp.run("gke_cluster", name="gke-" + region, location=zone, network="vpc", subnetwork="nodes")["changed"]
    for service in ("multiclusterservicediscovery.googleapis.com", "multiclusteringress.googleapis.com"):
        gcp.emu.projects["test-project-1"]["services"].add(service)


def member(gcp, region, zone, **kw):
    return gcp.run("fleet_membership", name="gke-" + region, cluster="gke-" + region, cluster_location=zone, **kw)


def test_memberships_and_features(clusters):
    gcp = clusters
    assert member(gcp, "us-east5", "us-east5-b", check=True)["changed"]
    assert gcp.resources(HUB) == {}
    for region, zone in (("europe-west4", "europe-west4-a"), ("us-east5", "us-east5-b")):
        assert member(gcp, region, zone)["changed"]
        assert not member(gcp, region, zone)["changed"]
    link = gcp.resource(HUB + "memberships/gke-us-east5")["endpoint"]["gkeCluster"]["resourceLink"]
    assert link == "//container.googleapis.com/projects/test-project-1/locations/us-east5-b/clusters/gke-us-east5"
    moved = gcp.run("fleet_membership", name="gke-us-east5", cluster="gke-europe-west4", cluster_location="europe-west4-a")
    assert moved["failed"] and "cannot move" in moved["msg"]

    assert gcp.run("fleet_feature", name="multiclusterservicediscovery")["changed"]
    assert not gcp.run("fleet_feature", name="multiclusterservicediscovery")["changed"]
    mci = gcp.run("fleet_feature", name="multiclusteringress", config_membership="gke-us-east5")
    assert mci["changed"], mci
    assert gcp.resource(HUB + "features/multiclusteringress")["spec"]["multiclusteringress"]["configMembership"] == \
        "projects/test-project-1/locations/global/memberships/gke-us-east5"
    assert not gcp.run("fleet_feature", name="multiclusteringress", config_membership="gke-us-east5")["changed"]
    # the inventory moves the config cluster: updated in place
    check = gcp.run("fleet_feature", name="multiclusteringress", config_membership="gke-europe-west4", check=True)
    assert check["changed"]
    assert gcp.resource(HUB + "features/multiclusteringress")["spec"]["multiclusteringress"]["configMembership"].endswith(
        "gke-us-east5")
    assert gcp.run("fleet_feature", name="multiclusteringress", config_membership="gke-europe-west4")["changed"]
    assert gcp.resource(HUB + "features/multiclusteringress")["spec"]["multiclusteringress"]["configMembership"].endswith(
        "gke-europe-west4")

    # teardown order: features before memberships, memberships before clusters
    busy = gcp.run("gke_cluster", name="gke-us-east5", location="us-east5-b", state="absent")
    assert busy["failed"] and "fleet membership" in busy["msg"]
    for feature in ("multiclusteringress", "multiclusterservicediscovery"):
        assert gcp.run("fleet_feature", name=feature, state="absent")["changed"]
    for region, zone in (("europe-west4", "europe-west4-a"), ("us-east5", "us-east5-b")):
        assert member(gcp, region, zone, state="absent")["changed"]
        assert not member(gcp, region, zone, state="absent")["changed"]
    assert gcp.resources(HUB) == {}


def test_membership_of_missing_cluster_is_refused(gcp):
    result = gcp.run("fleet_membership", name="ghost", cluster="ghost", cluster_location="us-east5-b")
    assert result["failed"] and "does not exist" in result["msg"]


def test_mci_needs_config_membership(gcp):
    result = gcp.run("fleet_feature", name="multiclusteringress")
    assert result["failed"] and result["msg"].startswith("config_membership:")


def test_transient_errors_are_retried_on_gke_and_hub(clusters):
    gcp = clusters
    gcp.fault("gkehub.projects.locations.memberships.create", status=503, count=1)
    gcp.fault("gkehub.projects.locations.operations.get", status=429, count=1)
    gcp.fault("container.projects.locations.clusters.get", status=504, count=1)
    assert member(gcp, "us-east5", "us-east5-b")["changed"]
    assert not gcp.run("gke_cluster", name="gke-us-east5", location="us-east5-b", network="vpc",
                       subnetwork="nodes")["changed"]
    statuses = {r["status"] for r in gcp.requests()}
    assert {503, 429, 504} <= statuses
