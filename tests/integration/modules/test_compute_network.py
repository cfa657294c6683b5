"""compute_network against the emulator."""


def test_lifecycle(gcp):
    # check mode before the change: reports changed, creates nothing
    result = gcp.run("compute_network", check=True, name="vpc-a", mtu=8896)
    assert result["changed"] is True, result
    assert gcp.resources("compute:") == {}

    result = gcp.run("compute_network", name="vpc-a", mtu=8896)
    assert result["changed"] is True, result
    assert result["network"]["mtu"] == 8896
    stored = gcp.resource("compute:projects/test-project-1/global/networks/vpc-a")
    assert stored["mtu"] == 8896 and stored["autoCreateSubnetworks"] is False

    again = gcp.run("compute_network", name="vpc-a", mtu=8896)
    assert again["changed"] is False, again

    # mutable field: routing mode, check mode first
    check = gcp.run("compute_network", check=True, name="vpc-a", mtu=8896, routing_mode="GLOBAL")
    assert check["changed"] is True and "routing_config.routing_mode" in check["changes"]
    assert gcp.resource("compute:projects/test-project-1/global/networks/vpc-a")["routingConfig"]["routingMode"] == "REGIONAL"
    updated = gcp.run("compute_network", name="vpc-a", mtu=8896, routing_mode="GLOBAL")
    assert updated["changed"] is True
    assert gcp.resource("compute:projects/test-project-1/global/networks/vpc-a")["routingConfig"]["routingMode"] == "GLOBAL"

    # immutable field: a clear failure, nothing changed
    immutable = gcp.run("compute_network", name="vpc-a", mtu=1500, routing_mode="GLOBAL")
    assert immutable.get("failed") and "mtu" in immutable["msg"] and "cannot be updated in place" in immutable["msg"]

    deleted = gcp.run("compute_network", name="vpc-a", state="absent")
    assert deleted["changed"] is True
    assert gcp.resources("compute:") == {}
    assert gcp.run("compute_network", name="vpc-a", state="absent")["changed"] is False
