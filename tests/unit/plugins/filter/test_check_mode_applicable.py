"""The manifests one kubernetes.core.k8s call applies, or dry-runs in check mode."""

from ansible_collections.gke_inference.multicluster.plugins.filter.check_mode_applicable import check_mode_applicable

MANIFESTS = [
    {"kind": "Namespace", "metadata": {"name": "llm"}},
    {"kind": "ConfigMap", "metadata": {"name": "m", "namespace": "llm"}},
    {"kind": "ServiceAccount", "metadata": {"name": "sa", "namespace": "default"}},
    {"kind": "InferenceObjective", "metadata": {"name": "o", "namespace": "default"}},
    {"kind": "ClusterRole", "metadata": {"name": "r"}},
]


def names(manifests):
    return [m["metadata"]["name"] for m in manifests]


def test_everything_outside_check_mode_in_order():
    assert check_mode_applicable(MANIFESTS, False, [], ["InferenceObjective"]) == MANIFESTS


def test_check_mode_leaves_out_what_the_run_would_create_first():
    # the namespace llm does not exist yet, and the InferenceObjective CRD would be installed by this run
    assert names(check_mode_applicable(MANIFESTS, True, ["default"], ["InferenceObjective"])) == ["llm", "sa", "r"]
    assert names(check_mode_applicable(MANIFESTS, True, ["default", "llm"], [])) == ["llm", "m", "sa", "o", "r"]
    assert check_mode_applicable(None, True) == []
