"""The filters that let one host ensure what the regions share, and skip a wait the apply already answered."""

from ansible_collections.gke_inference.multicluster.plugins.filter.one_host_each import one_host_each
from ansible_collections.gke_inference.multicluster.plugins.filter.unavailable_deployments import available_in_apply


def host(name, **facts):
    return dict(inventory_hostname=name, **facts)


def test_one_host_for_each_distinct_value_first_in_order():
    hosts = [host("a", key="p/nodes"), host("b", key="p/nodes"), host("c", key="q/nodes"), host("d", key="q/nodes")]
    assert one_host_each(hosts, "key") == ["a", "c"]


def test_hosts_without_the_fact_or_with_it_empty_are_left_out():
    hosts = [host("a"), host("b", key=""), host("c", key="p/nodes"), host("d", key=None)]
    assert one_host_each(hosts, "key") == ["c"]
    assert one_host_each([host("a", key="")], "key") == []
    assert one_host_each(None, "key") == []


def deployment(name, generation=2, observed=2, available="True", changed=False):
    return {"changed": changed, "result": {
        "kind": "Deployment", "metadata": {"name": name, "generation": generation},
        "status": {"observedGeneration": observed, "conditions": [{"type": "Available", "status": available}]}}}


def test_available_in_apply_of_a_list_names_only_unchanged_available_current_deployments():
    result = {"changed": True, "result": {"results": [
        {"changed": False, "result": {"kind": "Service", "metadata": {"name": "svc"}}},
        deployment("ready"),
        deployment("patched", changed=True),
        deployment("not-seen-yet", generation=3, observed=2),
        deployment("unavailable", available="False"),
        {"changed": False, "result": {"kind": "Deployment", "metadata": {"name": "no-status", "generation": 1}}},
    ]}}
    assert available_in_apply(result) == ["ready"]


def test_available_in_apply_of_one_definition_and_of_what_did_not_run():
    assert available_in_apply(deployment("one")) == ["one"]
    assert available_in_apply({"skipped": True}) == []
    assert available_in_apply({"failed": True, "msg": "x"}) == []
    assert available_in_apply({}) == []
