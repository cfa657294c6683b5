"""The emulated Kubernetes API: what the collection relies on, through the real kubernetes client."""

import base64
import json

import pytest
import yaml
from kubernetes import config, dynamic
from kubernetes.dynamic.exceptions import DynamicApiError

from emulator import Emulator
from emulator.kube import KubeCluster
from emulator.kube_patch import label_match, strategic_merge

KEY = "container:projects/p/locations/us-east5-b/clusters/c"


@pytest.fixture
def kube(tmp_path):
    emu = Emulator(latency_scale=0.0, project="p", project_number="1")
    cluster = {"nodePools": [{"name": "tpu", "status": "RUNNING", "initialNodeCount": 1, "config": {
        "machineType": "ct6e-standard-4t", "labels": {"cloud.google.com/gke-networking-dra-driver": "true"}}}],
        "addonsConfig": {}}
    emu.store[KEY] = cluster
    server = KubeCluster(emu, KEY, cluster)
    emu.kube[KEY] = server
    emu.tokens.add("t")
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:%d" % server.port,
                                               "certificate-authority-data": base64.b64encode(server.ca_pem).decode()}}],
        "users": [{"name": "u", "user": {"token": "t"}}], "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    client = dynamic.DynamicClient(config.new_client_from_config(config_file=str(path)))
    yield server, client
    server.stop()


def deployment(name, labels, replicas=1, **pod):
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": {
                "metadata": {"labels": labels}, "spec": dict({"containers": [{"name": "c", "image": "i:1"}]}, **pod)}}}


def test_rejects_unknown_tokens_and_bad_objects(kube):
    server, client = kube
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    with pytest.raises(DynamicApiError) as err:
        deployments.create(body=dict(deployment("d", {"a": "b"}), spec={"replicas": "two"}), namespace="default")
    assert err.value.status == 422 and "replicas" in json.loads(err.value.body)["message"]
    with pytest.raises(DynamicApiError) as err:
        deployments.create(body=deployment("d", {"a": "b"}), namespace="missing")
    assert err.value.status == 404


def test_dry_run_creates_nothing_and_selectors_filter(kube):
    server, client = kube
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(body=deployment("a", {"app": "x"}, replicas=0), namespace="default", dry_run="All")
    assert server.list("apps", "deployments") == []
    deployments.create(body=deployment("a", {"app": "x"}, replicas=0), namespace="default")
    deployments.create(body=deployment("b", {"app": "y"}, replicas=0), namespace="default")
    names = [d.metadata.name for d in deployments.get(namespace="default", label_selector="app in (x)").items]
    assert names == ["a"]
    listed = deployments.get(namespace="default")
    assert listed.kind == "DeploymentList" and len(listed.items) == 2
    status = deployments.get(name="a", namespace="default").status
    assert status.observedGeneration == 1 and not status.replicas  # 0 replicas: available with no pods


def test_crd_registers_its_kind_and_validates_its_objects(kube):
    server, client = kube
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.com"},
           "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"plural": "widgets", "kind": "Widget", "singular": "widget"},
                    "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": {
                        "type": "object", "properties": {"spec": {"type": "object", "properties": {
                            "size": {"type": "integer"}}}}}}}]}}
    client.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition").create(body=crd)
    client.resources.invalidate_cache()
    widgets = client.resources.get(api_version="example.com/v1", kind="Widget")
    with pytest.raises(DynamicApiError) as err:
        widgets.create(body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                             "spec": {"size": "big"}}, namespace="default")
    assert err.value.status == 422
    widgets.create(body={"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"},
                         "spec": {"size": 1}}, namespace="default")
    with pytest.raises(DynamicApiError) as err:  # custom kinds refuse strategic merge, as the API server does
        widgets.patch(body={"spec": {"size": 2}}, name="w", namespace="default")
    assert err.value.status == 415
    patched = widgets.patch(body={"spec": {"size": 2}}, name="w", namespace="default",
                            content_type="application/merge-patch+json")
    assert patched.spec.size == 2 and patched.metadata.generation == 2


def test_pods_schedule_on_matching_nodes_with_dra_claims(kube):
    server, client = kube
    template = {"apiVersion": "resource.k8s.io/v1", "kind": "ResourceClaimTemplate", "metadata": {"name": "net"},
                "spec": {"spec": {"devices": {"requests": [{"name": "r", "exactly": {
                    "deviceClassName": "netdev.google.com", "allocationMode": "All"}}]}}}}
    client.resources.get(api_version="resource.k8s.io/v1", kind="ResourceClaimTemplate").create(
        body=template, namespace="default")
    tpu = {"requests": {"google.com/tpu": 4}, "limits": {"google.com/tpu": 4}}
    pod = {"nodeSelector": {"cloud.google.com/gke-tpu-topology": "2x2"},
           "resourceClaims": [{"name": "netdev", "resourceClaimTemplateName": "net"}],
           "containers": [{"name": "c", "image": "i:1", "resources": tpu}]}
    deployments = client.resources.get(api_version="apps/v1", kind="Deployment")
    deployments.create(body=deployment("d", {"app": "d"}, replicas=2, **pod), namespace="default")
    pods = client.resources.get(api_version="v1", kind="Pod").get(namespace="default").items
    running = [p for p in pods if p.spec.nodeName]
    pending = [p for p in pods if not p.spec.nodeName]
    assert len(running) == 1 and len(pending) == 1  # one node with 4 chips
    assert running[0].status.resourceClaimStatuses[0].name == "netdev"
    assert "Insufficient google.com/tpu" in pending[0].status.conditions[0].message
    pod["nodeSelector"] = {"cloud.google.com/gke-tpu-topology": "2x4"}
    deployments.create(body=deployment("e", {"app": "e"}, **pod), namespace="default")
    pod_e = client.resources.get(api_version="v1", kind="Pod").get(namespace="default", label_selector="app=e").items[0]
    assert "didn't match Pod's node affinity/selector" in pod_e.status.conditions[0].message


def test_helpers():
    assert label_match({"a": "1", "b": "2"}, "a=1,b!=3,c notin (x),!d")
    assert not label_match({"a": "1"}, "a in (2,3)")
    merged = strategic_merge({"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]},
                             {"containers": [{"name": "b", "image": "2"}]}, None)
    assert merged == {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}
    assert yaml.safe_dump(merged)


def test_hpa_metrics_need_a_node_service_account_that_may_write_them(kube):
    """Managed Prometheus writes the pods' metrics with the node's service account: until that account holds a
    role with monitoring.timeSeries.create on the project, the HPA gets no metric (the Compute Engine default
    account of a new project holds none)."""
    server, client = kube
    emu = server.emu
    client.resources.get(api_version="apiregistration.k8s.io/v1", kind="APIService").create(body={
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService", "metadata": {"name": "v1beta1.custom.metrics.k8s.io"},
        "spec": {"group": "custom.metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                 "versionPriority": 100, "service": {"name": "adapter", "namespace": "custom-metrics"}}})
    client.resources.get(api_version="apps/v1", kind="Deployment").create(
        body=deployment("d", {"app": "d"}), namespace="default")
    hpas = client.resources.get(api_version="autoscaling/v2", kind="HorizontalPodAutoscaler")
    hpas.create(namespace="default", body={
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}, "maxReplicas": 2,
                 "metrics": [{"type": "Pods", "pods": {"metric": {"name": "prometheus.googleapis.com|m|gauge"},
                                                       "target": {"type": "AverageValue", "averageValue": "1"}}}]}})

    def scaling_active():
        status = hpas.get(name="h", namespace="default").status
        return [(c.status, c.message) for c in status.conditions if c.type == "ScalingActive"][0]
    active, message = scaling_active()
    assert active == "False" and "no metrics returned from custom metrics API" in message, message
    policy = emu.store["cloudresourcemanager:iam/p"]
    policy["bindings"].append({"role": "roles/monitoring.metricWriter",
                               "members": ["serviceAccount:1-compute@developer.gserviceaccount.com"]})
    assert scaling_active()[0] == "True"
    # a pool of its own service account: the default account's grant no longer helps
    server.cluster["nodePools"][0]["config"]["serviceAccount"] = "nodes@p.iam.gserviceaccount.com"
    assert scaling_active()[0] == "False"
    policy["bindings"].append({"role": "roles/container.defaultNodeServiceAccount",
                               "members": ["serviceAccount:nodes@p.iam.gserviceaccount.com"]})
    assert scaling_active()[0] == "True"
