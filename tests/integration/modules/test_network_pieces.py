"""compute_subnetwork, compute_address and compute_firewall against the emulator."""

import pytest

P = "compute:projects/test-project-1/"


@pytest.fixture
def vpc(gcp):
    assert gcp.run("compute_network", name="vpc", mtu=8896)["changed"]
    return gcp


def subnet(gcp, **kw):
    args = dict(name="node", region="europe-west4", network="vpc", ip_cidr_range="10.0.1.0/24")
    args.update(kw)
    return gcp.run("compute_subnetwork", **args)


def test_subnetwork_lifecycle(vpc):
    gcp = vpc
    assert subnet(gcp, check=True)["changed"] and not gcp.resources(P + "regions/")
    created = subnet(gcp)
    assert created["changed"] and created["subnetwork"]["gateway_address"] == "10.0.1.1"
    assert not subnet(gcp)["changed"]
    # expand the range (dedicated call), check mode first
    assert subnet(gcp, ip_cidr_range="10.0.0.0/23", check=True)["changed"]
    assert gcp.resource(P + "regions/europe-west4/subnetworks/node")["ipCidrRange"] == "10.0.1.0/24"
    assert subnet(gcp, ip_cidr_range="10.0.0.0/23")["changed"]
    assert gcp.resource(P + "regions/europe-west4/subnetworks/node")["ipCidrRange"] == "10.0.0.0/23"
    shrink = subnet(gcp, ip_cidr_range="10.0.1.0/24")
    assert shrink["failed"] and "can only be expanded" in shrink["msg"]
    # private Google access (dedicated call) and secondary ranges (patch with fingerprint)
    assert subnet(gcp, ip_cidr_range="10.0.0.0/23", private_ip_google_access=True,
                  secondary_ip_ranges=[{"range_name": "pods", "ip_cidr_range": "10.8.0.0/16"}])["changed"]
    stored = gcp.resource(P + "regions/europe-west4/subnetworks/node")
    assert stored["privateIpGoogleAccess"] is True
    assert stored["secondaryIpRanges"] == [{"rangeName": "pods", "ipCidrRange": "10.8.0.0/16"}]
    assert not subnet(gcp, ip_cidr_range="10.0.0.0/23", private_ip_google_access=True)["changed"]
    assert subnet(gcp, state="absent")["changed"]
    assert not subnet(gcp, state="absent")["changed"]


def test_proxy_only_subnet(vpc):
    gcp = vpc
    result = subnet(gcp, name="proxy", ip_cidr_range="10.1.1.0/24", purpose="GLOBAL_MANAGED_PROXY")
    assert result["changed"] and result["subnetwork"]["purpose"] == "GLOBAL_MANAGED_PROXY"
    assert result["subnetwork"]["role"] == "ACTIVE"
    assert not subnet(gcp, name="proxy", ip_cidr_range="10.1.1.0/24", purpose="GLOBAL_MANAGED_PROXY")["changed"]
    # role is patchable
    assert subnet(gcp, name="proxy", ip_cidr_range="10.1.1.0/24", purpose="GLOBAL_MANAGED_PROXY", role="BACKUP")["changed"]
    assert gcp.resource(P + "regions/europe-west4/subnetworks/proxy")["role"] == "BACKUP"
    # purpose is not
    moved = subnet(gcp, name="proxy", ip_cidr_range="10.1.1.0/24", purpose="PRIVATE")
    assert moved["failed"] and "purpose" in moved["msg"]


def test_subnetwork_bad_input_creates_nothing(vpc):
    gcp = vpc
    before = len(gcp.requests())
    for args, field in [({"ip_cidr_range": "10.0.1.0/33"}, "ip_cidr_range"),
                        ({"ip_cidr_range": "10.0.1.5/24"}, "ip_cidr_range"),
                        ({"name": "Bad_Name"}, "name"),
                        ({"region": "europe west4"}, "region"),
                        ({"role": "ACTIVE"}, "role")]:
        result = subnet(gcp, **args)
        assert result["failed"] and result["msg"].startswith(field), result
    assert len(gcp.requests()) == before  # failed before any API call


def test_overlap_refused_by_api(vpc):
    gcp = vpc
    assert subnet(gcp)["changed"]
    clash = subnet(gcp, name="other", region="us-east5", ip_cidr_range="10.0.1.128/25")
    assert clash["failed"] and "conflicts with existing subnetwork" in clash["msg"]


def test_address(vpc):
    gcp = vpc
    subnet(gcp)
    args = dict(name="gw-ip", region="europe-west4", subnetwork="node")
    assert gcp.run("compute_address", check=True, **args)["changed"]
    assert not gcp.resources(P + "regions/europe-west4/addresses")
    created = gcp.run("compute_address", **args)
    assert created["changed"] and created["ip"] == "10.0.1.2"
    assert not gcp.run("compute_address", **args)["changed"]
    moved = gcp.run("compute_address", address="10.0.1.9", **args)
    assert moved["failed"] and "address" in moved["msg"] and "cannot be updated in place" in moved["msg"]
    # the subnet cannot go while the address uses it
    busy = subnet(gcp, state="absent")
    assert busy["failed"] and "already being used" in busy["msg"]
    assert gcp.run("compute_address", state="absent", **args)["changed"]
    assert subnet(gcp, state="absent")["changed"]


def test_firewall(vpc):
    gcp = vpc
    args = dict(name="allow-hc", network="vpc", allowed=[{"ip_protocol": "tcp", "ports": ["8000"]}],
                source_ranges=["130.211.0.0/22", "35.191.0.0/16"])
    assert gcp.run("compute_firewall", check=True, **args)["changed"]
    assert gcp.resource(P + "global/firewalls/allow-hc") is None
    assert gcp.run("compute_firewall", **args)["changed"]
    assert not gcp.run("compute_firewall", **args)["changed"]
    # order of ranges does not matter
    assert not gcp.run("compute_firewall", **dict(args, source_ranges=["35.191.0.0/16", "130.211.0.0/22"]))["changed"]
    updated = gcp.run("compute_firewall", **dict(args, allowed=[{"ip_protocol": "tcp", "ports": ["8000", "9000"]}]))
    assert updated["changed"] and updated["diff"]["before"]["allowed"] != updated["diff"]["after"]["allowed"]
    assert gcp.resource(P + "global/firewalls/allow-hc")["allowed"] == [{"IPProtocol": "tcp", "ports": ["8000", "9000"]}]
    assert gcp.run("compute_firewall", name="allow-hc", state="absent")["changed"]
    assert gcp.resource(P + "global/firewalls/allow-hc") is None


def test_retries_transient_errors(vpc):
    gcp = vpc
    gcp.fault("compute.subnetworks.insert", status=503, count=1)
    gcp.fault("compute.subnetworks.get", status=429, count=1, message="Rate Limit Exceeded")
    result = subnet(gcp)
    assert result["changed"], result
    watched = ("compute.subnetworks.insert", "compute.subnetworks.get")
    statuses = [r["status"] for r in gcp.requests() if r["method_id"] in watched]
    assert 503 in statuses and 429 in statuses


def test_busy_resource_is_retried(vpc):
    """'resource is not ready' (an operation in progress on it) is retried, then succeeds."""
    gcp = vpc
    gcp.fault("compute.firewalls.insert", status=400, count=2, reason="resourceNotReady",
              message="The resource 'projects/test-project-1/global/networks/vpc' is not ready")
    result = gcp.run("compute_firewall", name="fw", network="vpc", allowed=[{"ip_protocol": "all"}])
    assert result["changed"], result
    # a rule without ports comes back with an empty ports list: still the same rule
    assert not gcp.run("compute_firewall", name="fw", network="vpc", allowed=[{"ip_protocol": "all"}])["changed"]


def test_operation_error_fails_with_api_message(vpc):
    gcp = vpc
    gcp.fault("compute.addresses.insert", operation_error={
        "code": "QUOTA_EXCEEDED", "message": "Quota 'INTERNAL_ADDRESSES' exceeded. Limit: 0.0 in region europe-west4.",
        "http_status": 403})
    subnet(gcp)
    result = gcp.run("compute_address", name="ip", region="europe-west4", subnetwork="node")
    assert result["failed"]
    assert "Quota 'INTERNAL_ADDRESSES' exceeded" in result["msg"] and "Request an increase" in result["msg"]
    assert gcp.resources(P + "regions/europe-west4/addresses") == {}


def test_api_disabled_is_explained(gcp):
    gcp.emu.projects["test-project-1"]["services"].discard("compute.googleapis.com")
    result = gcp.run("compute_network", name="vpc")
    assert result["failed"] and "Enable compute.googleapis.com" in result["msg"]


def router(gcp, **kw):
    args = dict(name="nat-eu", region="europe-west4", network="vpc")
    args.update(kw)
    return gcp.run("compute_router", **args)


def test_router_with_cloud_nat(vpc):
    gcp = vpc
    key = P + "regions/europe-west4/routers/nat-eu"
    assert router(gcp, check=True)["changed"] and gcp.resource(key) is None
    created = router(gcp)
    assert created["changed"] and created["router"]["nats"] == [{
        "name": "nat-eu-nat", "nat_ip_allocate_option": "AUTO_ONLY",
        "source_subnetwork_ip_ranges_to_nat": "ALL_SUBNETWORKS_ALL_IP_RANGES"}]
    assert gcp.resource(key)["network"].endswith("/projects/test-project-1/global/networks/vpc")
    # Google's defaults on the NAT are not managed: they are no drift
    gcp.resource(key)["nats"][0]["minPortsPerVm"] = 64
    assert not router(gcp)["changed"]
    # the NAT is changed in place (a merge patch of the router), check mode first
    assert router(gcp, nat={"source_ranges": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"}, check=True)["changed"]
    assert gcp.resource(key)["nats"][0]["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_IP_RANGES"
    changed = router(gcp, nat={"source_ranges": "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"})
    assert changed["changed"] and changed["changes"] == ["nats"], changed
    assert gcp.resource(key)["nats"][0]["sourceSubnetworkIpRangesToNat"] == "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES"
    # the teardown's final check names a router that is left
    left = gcp.run("leftovers_info", routers=[{"region": "europe-west4", "name": "nat-eu"},
                                              {"region": "us-east5", "name": "nat-us"}])
    assert left["present"] == ["router nat-eu in europe-west4"], left
    # the network holds the router: it cannot be deleted first
    refused = gcp.run("compute_network", name="vpc", state="absent")
    assert refused["failed"] and "nat-eu" in refused["msg"], refused
    assert router(gcp, state="absent")["changed"] and gcp.resource(key) is None
    assert not router(gcp, state="absent")["changed"]
    assert gcp.run("leftovers_info", routers=[{"region": "europe-west4", "name": "nat-eu"}])["present"] == []


def test_router_bad_input_creates_nothing(vpc):
    gcp = vpc
    result = router(gcp, name="Bad_Name", nat={"name": "also bad"})
    assert result["failed"] and "name:" in result["msg"] and "nat.name:" in result["msg"], result
    missing = router(gcp, network="no-such-vpc")
    assert missing["failed"] and "no-such-vpc" in missing["msg"], missing
    assert not gcp.resources(P + "regions/europe-west4/routers/")
