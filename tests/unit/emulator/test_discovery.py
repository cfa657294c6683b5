"""The emulator validates requests like Google: against the discovery documents, with proto enum numbers."""

import pytest

from emulator.discovery import Registry


@pytest.fixture(scope="module")
def registry():
    return Registry(["compute", "container"])


def test_routes_come_from_discovery(registry):
    (method, params), = registry.match("POST", "/compute/v1/projects/p/regions/r/subnetworks")
    assert method.id == "compute.subnetworks.insert" and params == {"project": "p", "region": "r"}
    (method, _params), = registry.match("PUT", "/v1/projects/p/locations/l/clusters/c")
    assert method.id == "container.projects.locations.clusters.update"


def test_unknown_field_wrong_type_and_bad_enum_are_refused(registry):
    compute = registry.apis["compute"]
    assert compute.validate("Subnetwork", {"name": "s", "ipCidrRange": "10.0.0.0/24", "purpose": "PRIVATE"}) is None
    assert 'Unknown name "colour"' in compute.validate("Network", {"name": "n", "colour": "red"})
    assert "mtu" in compute.validate("Network", {"name": "n", "mtu": "big"})
    assert "purpose" in compute.validate("Subnetwork", {"purpose": "GLOBAL_PROXY"})


def test_enums_sent_as_proto_numbers(registry):
    container = registry.apis["container"]
    # GatewayAPIConfig.Channel: CHANNEL_STANDARD is 4 (3 is CHANNEL_EXPERIMENTAL, 2 is unused)
    body = {"cluster": {"networkConfig": {"gatewayApiConfig": {"channel": 4}}}}
    assert container.validate("CreateClusterRequest", body) is None
    named = container.enum_names("CreateClusterRequest", body)
    assert named["cluster"]["networkConfig"]["gatewayApiConfig"]["channel"] == "CHANNEL_STANDARD"
    assert container.validate("CreateClusterRequest", {"cluster": {"networkConfig": {"gatewayApiConfig": {"channel": 2}}}})


def test_operation_types_the_emulator_sends_are_values_of_the_enum(registry):
    """A response enum value outside the discovery document breaks older client libraries (protobuf 4 refuses
    it while parsing), so the emulated GKE sends only the enum's values."""
    import inspect
    import re

    from emulator import gke

    sent = set(re.findall(r'_container_op\(ctx, "([A-Z_]+)"', inspect.getsource(gke)))
    enum = registry.apis["container"].doc["schemas"]["Operation"]["properties"]["operationType"]["enum"]
    assert sent and sent <= set(enum), sorted(sent - set(enum))
