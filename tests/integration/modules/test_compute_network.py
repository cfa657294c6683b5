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


def test_operation_poll_max_caps_the_wait_between_two_looks_at_an_operation(gcp, monkeypatch):
    """The operation waiter looks again after an eighth of the time waited so far (0.25 s at least), and never
    waits longer than operation_poll_max between two looks; 0 or less is refused before any call."""
    import time

    sleeps, real_sleep = [], time.sleep

    def record(seconds):
        sleeps.append(seconds)
        real_sleep(seconds)

    gcp.control("POST", "config", {"latency": {"compute.networks.insert": 4.5 / gcp.emu.latency_scale}})
    monkeypatch.setattr(time, "sleep", record)
    result = gcp.run("compute_network", name="vpc-poll", mtu=8896, operation_poll_max=0.4)
    monkeypatch.setattr(time, "sleep", real_sleep)
    assert result["changed"] is True, result
    # about 4.5 s of operation: looks every 0.25 s, then every 0.4 s once an eighth of the time waited passes it
    # (after 3.2 s: the 1.3 s left is more than a look takes on a busy machine)
    assert sleeps and max(sleeps) == 0.4 and min(sleeps) == 0.25, sleeps

    refused = gcp.run("compute_network", name="vpc-poll-2", mtu=8896, operation_poll_max=0)
    assert refused.get("failed") and refused["msg"].startswith("operation_poll_max: 0.0 is not a number of seconds"), refused
    assert gcp.resource("compute:projects/test-project-1/global/networks/vpc-poll-2") is None
