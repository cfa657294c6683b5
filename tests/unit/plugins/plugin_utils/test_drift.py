"""The drift callback's description of what a check-mode task would change (plugins/callback/drift.py)."""

from ansible_collections.gke_inference.multicluster.plugins.plugin_utils.reporting import describe, differences


def test_differences_name_each_field_and_ignore_empty_versus_absent():
    before = {"source_ranges": ["10.0.0.0/8"], "allowed": [{"ip_protocol": "all", "ports": []}], "name": "fw"}
    after = {"source_ranges": ["10.0.1.0/24"], "allowed": [{"ip_protocol": "all"}], "name": "fw"}
    assert differences(before, after) == ['source_ranges[0]: "10.0.0.0/8" -> "10.0.1.0/24"']


def test_describe_a_module_diff_a_kubernetes_list_and_a_hidden_result():
    assert describe({"changed": True, "diff": {"before": {"initial_node_count": 2},
                                               "after": {"initial_node_count": 1}}}) == ["initial_node_count: 2 -> 1"]
    k8s = {"changed": True, "result": {"results": [
        {"changed": False, "result": {"kind": "Service", "metadata": {"name": "s"}}},
        {"changed": True, "result": {"kind": "Deployment", "metadata": {"name": "vllm-gemma"}},
         "diff": {"before": {"spec": {"image": "a:1"}}, "after": {"spec": {"image": "a:2"}}}}]}}
    assert describe(k8s) == ['Deployment/vllm-gemma spec.image: "a:1" -> "a:2"']
    assert describe({"changed": True, "censored": "the output has been hidden"}) == ["(hidden: no_log)"]
