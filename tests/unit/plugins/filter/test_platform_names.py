"""The platform's derived names (plugins/module_utils/names.py through plugins/filter/platform_names.py)."""

from ansible_collections.gke_inference.multicluster.plugins.filter.platform_names import FilterModule

F = FilterModule().filters()


def test_bucket_marker_and_principal():
    assert F["model_bucket"]("my-project") == "my-project-gemma-weights"
    assert F["model_bucket"]("my-project", "team-weights") == "team-weights"
    assert F["download_marker"]("google/gemma-3-27b-it") == "google/gemma-3-27b-it/.download-complete"
    assert F["download_marker"]("google/gemma-3-27b-it", "DONE") == "google/gemma-3-27b-it/DONE"
    info = {"project_number": "123", "workload_pool": "my-project.svc.id.goog"}
    assert F["workload_principal"](info, "default", "gemma-reader") == (
        "principal://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/my-project.svc.id.goog"
        "/subject/ns/default/sa/gemma-reader")


def test_gateway_addresses_follow_what_each_region_reserved():
    """The gateway names the address each region's network role reserved: the inventory's own name when a region
    sets network_gateway_address_name, once per region, without the excluded hosts."""
    hosts = [{"inventory_hostname": "gke-us", "gcp_region": "us-east5"},
             {"inventory_hostname": "gke-eu", "gcp_region": "europe-west4", "network_gateway_address_name": "eu-gw"},
             {"inventory_hostname": "gke-us-2", "gcp_region": "us-east5"},
             {"inventory_hostname": "gke-asia", "gcp_region": "asia-southeast1"}]
    assert F["gateway_address_name"]("us-east5") == "gemma-gateway-ip-us-east5"
    assert F["gateway_addresses"](hosts) == [{"region": "us-east5", "name": "gemma-gateway-ip-us-east5"},
                                             {"region": "europe-west4", "name": "eu-gw"},
                                             {"region": "asia-southeast1", "name": "gemma-gateway-ip-asia-southeast1"}]
    assert [a["region"] for a in F["gateway_addresses"](hosts, ["gke-eu", "gke-asia"])] == ["us-east5"]
