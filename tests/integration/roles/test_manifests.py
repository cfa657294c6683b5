"""Every Kubernetes object the collection renders validates against its schema.

Core kinds: kubernetes-validate (strict: unknown fields fail) for Kubernetes 1.34. Custom kinds:
the openAPIV3Schema of their upstream CRDs in tests/crds (and the role's own), made strict the same way. The public
GCPBackendPolicy CRD lags GKE's: the fields listed in GKE_ONLY are checked by hand and removed
before the schema check. AutoscalingMetric's CRD is not public: its shape is checked by hand
(the seeds' shape).
"""

import copy
import glob
import json
import os
import subprocess
import sys

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
# the upstream CRDs (tests/crds/SOURCES.md) and the one the workload role ships and installs
CRDS = [os.path.join(ROOT, "tests", "crds", "*", "*.yaml"),
        os.path.join(ROOT, "roles", "workload", "files", "crds", "*", "*.yaml")]
sys.path.insert(0, os.path.join(ROOT, ".collections"))

# GCPBackendPolicy spec.default fields GKE accepts that the public CRD (gke-gateway-api) lacks.
GKE_ONLY = {"GCPBackendPolicy": ["balancingMode", "customMetrics", "trafficDuration",
                                 "maxInFlightRequestsPerEndpoint", "scopes"]}


def _strict(schema, branch=False):
    """additionalProperties: false wherever the schema lists properties and does not preserve unknown
    fields (not inside oneOf/anyOf/allOf/not branches, which only constrain the fields listed)."""
    if isinstance(schema, dict):
        out = {k: _strict(v, k in ("oneOf", "anyOf", "allOf", "not")) for k, v in schema.items()}
        if "properties" in out and "additionalProperties" not in out and not branch and not out.get(
                "x-kubernetes-preserve-unknown-fields"):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(x, branch) for x in schema]
    return schema


def crd_schemas():
    schemas = {}
    for path in sorted(p for pattern in CRDS for p in glob.glob(pattern)):
        with open(path, encoding="utf-8") as handle:
            crd = yaml.safe_load(handle)
        for version in crd["spec"]["versions"]:
            schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
            schema["properties"].pop("metadata", None)
            schema["properties"].pop("status", None)
            key = ("%s/%s" % (crd["spec"]["group"], version["name"]), crd["spec"]["names"]["kind"])
            schemas[key] = _strict(schema)
    return schemas


SCHEMAS = None


def validate(obj):
    global SCHEMAS  # pylint: disable=global-statement
    if SCHEMAS is None:
        SCHEMAS = crd_schemas()
    key = (obj["apiVersion"], obj["kind"])
    if key == ("autoscaling.gke.io/v1beta1", "AutoscalingMetric"):
        spec = obj["spec"]
        assert set(spec) == {"selector", "endpoints"} and set(spec["selector"]) == {"matchLabels"}
        for endpoint in spec["endpoints"]:
            assert set(endpoint) == {"port", "path", "metrics"} and isinstance(endpoint["port"], int)
            assert all(set(m) == {"name", "exportName"} for m in endpoint["metrics"])
        return
    if key in SCHEMAS:
        body = copy.deepcopy(obj)
        body.pop("metadata")
        for field in GKE_ONLY.get(obj["kind"], []):
            body["spec"]["default"].pop(field, None)
        jsonschema.validate(body, SCHEMAS[key])
        return
    kubernetes_validate.validate(obj, "1.34", strict=True)


def render(tmp_path, role, tasks_from, fact, **variables):
    out = tmp_path / ("%s.json" % role)
    play = [{"hosts": "localhost", "gather_facts": False, "vars": dict({"gcp_project_id": "my-project"}, **variables),
             "tasks": [{"ansible.builtin.include_role": {"name": "gke_inference.multicluster." + role,
                                                         "tasks_from": tasks_from}},
                       {"ansible.builtin.copy": {"content": "{{ %s | to_json }}" % fact, "dest": str(out),
                                                 "mode": "0600"}}]}]
    (tmp_path / "render.yml").write_text(yaml.safe_dump(play))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([binary, str(tmp_path / "render.yml"), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=" + sys.executable],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, check=False)
    return proc, (json.loads(out.read_text()) if out.exists() else None)


@pytest.mark.parametrize("profile", ["tpu_v6e", "gpu_h100"])
def test_workload_manifests_validate(tmp_path, profile):
    proc, objects = render(tmp_path, "workload", "manifests", "workload_manifests",
                           workload_accelerator_profile=profile, gcp_region="us-east5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    kinds = [o["kind"] for o in objects]
    for kind in ("ServiceAccount", "ConfigMap", "Deployment", "Service", "PodMonitoring", "AutoscalingMetric",
                 "HorizontalPodAutoscaler", "InferenceObjective", "InferencePool", "APIService"):
        assert kind in kinds, kind
    assert ("ResourceClaimTemplate" in kinds) == (profile == "tpu_v6e")
    for obj in objects:
        validate(obj)
    deployment = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "vllm-gemma"][0]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    if profile == "tpu_v6e":
        assert pod["nodeSelector"] == {"cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice",
                                       "cloud.google.com/gke-tpu-topology": "2x2"}
        assert container["resources"]["limits"] == {"google.com/tpu": 4}
        assert pod["resourceClaims"] == [{"name": "netdev", "resourceClaimTemplateName": "all-netdev"}]
    else:
        assert pod["nodeSelector"] == {"cloud.google.com/gke-accelerator": "nvidia-h100-80gb"}
        assert container["resources"]["limits"] == {"nvidia.com/gpu": 2}
        assert "--tensor-parallel-size=2" in container["args"]
    weights = [v for v in pod["volumes"] if v["name"] == "weights"][0]["csi"]
    assert weights["readOnly"] is True and weights["volumeAttributes"]["fileCacheCapacity"] == "100Gi"
    assert pod["terminationGracePeriodSeconds"] > container["lifecycle"]["preStop"]["sleep"]["seconds"]
    hpa = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"][0]
    assert float(hpa["spec"]["metrics"][0]["pods"]["target"]["averageValue"]) < 0.6
    # The region header: the middleware file, mounted from its ConfigMap, on PYTHONPATH, loaded by vLLM.
    middleware = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "vllm-gemma-middleware"][0]
    with open(os.path.join(ROOT, "roles", "workload", "files", "gke_region_header.py"), encoding="utf-8") as handle:
        assert middleware["data"] == {"gke_region_header.py": handle.read()}
    assert objects.index(middleware) < objects.index(deployment)  # applied before the pods that mount it
    env = {e["name"]: e["value"] for e in container["env"]}
    mount = [m for m in container["volumeMounts"] if m["name"] == "middleware"][0]
    assert [v for v in pod["volumes"] if v["name"] == "middleware"][0]["configMap"] == {"name": "vllm-gemma-middleware"}
    assert env["PYTHONPATH"] == mount["mountPath"] and mount["readOnly"] is True
    assert env["GKE_SERVED_REGION"] == "us-east5" and env["GKE_REGION_HEADER"] == "x-served-region"
    assert "--middleware=gke_region_header.RegionHeader" in container["args"]
    assert len(deployment["spec"]["template"]["metadata"]["annotations"]["gke-inference.io/middleware-sha256"]) == 64


def test_workload_region_header_off_and_bad_input(tmp_path):
    proc, objects = render(tmp_path, "workload", "manifests", "workload_manifests", workload_region_header="")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "vllm-gemma-middleware" not in [o["metadata"]["name"] for o in objects]
    container = [o for o in objects if o["kind"] == "Deployment"][0]["spec"]["template"]["spec"]["containers"][0]
    assert not [a for a in container["args"] if a.startswith("--middleware")]
    assert {e["name"] for e in container["env"]} == {"PYTHONUNBUFFERED"}
    (tmp_path / "bad").mkdir()
    proc, objects = render(tmp_path / "bad", "workload", "manifests", "workload_manifests")  # no gcp_region
    assert proc.returncode != 0 and objects is None
    assert "workload_region (gcp_region): '' is not a region such as us-east5" in proc.stdout


def test_model_cache_manifests_validate(tmp_path):
    proc, objects = render(tmp_path, "model_cache", "manifests", "model_cache_manifests",
                           model_cache_hf_token="hf_renderTestToken")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hf_renderTestToken" not in proc.stdout + proc.stderr
    for obj in objects:
        validate(obj)
    job = objects[2]
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "gemma-downloader"
    env = {e["name"]: e for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "hf-token-downloader", "key": "token"}


def test_gateway_manifests_validate():
    from ansible_collections.gke_inference.multicluster.plugins.modules import inference_gateway
    params = {"namespace": "default", "name": "cross-region-gateway",
              "gateway_class": "gke-l7-cross-regional-internal-managed-mc", "listener_port": 80,
              "route_name": "gemma-route", "pool_name": "gemma-pool", "pool_port": 8000,
              "addresses": [{"region": "europe-west4", "name": "a"}, {"region": "us-east5", "name": "b"}],
              "health_check": {"name": "hc", "path": "/health", "port": 8000, "check_interval_sec": 2,
                               "timeout_sec": 2, "healthy_threshold": 2, "unhealthy_threshold": 2},
              "backend_policy": {"name": "bp", "metric": "tpu-cache", "max_utilization_percent": 60,
                                 "dry_run": False, "preferred_region": "us-east5", "timeout_sec": 100,
                                 "traffic_duration": "LONG"}}
    objects = inference_gateway.manifests(params)
    for obj in objects:
        validate(obj)
    backend = objects[3]["spec"]["default"]
    assert backend["scopes"] == [{"selector": {"gke.io/region": "us-east5"}, "backendPreference": "PREFERRED"}]


def test_validation_catches_an_unknown_field():
    bad = {"apiVersion": "networking.gke.io/v1", "kind": "HealthCheckPolicy", "metadata": {"name": "x"},
           "spec": {"targetRef": {"group": "", "kind": "Service", "name": "s"}, "default": {"checkIntervalSecs": 2}}}
    with pytest.raises(jsonschema.ValidationError):
        validate(bad)
    with pytest.raises(kubernetes_validate.ValidationError):
        validate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"portz": []}})


def test_the_crd_schemas_are_in_the_checkout():
    """Every custom kind the roles render has its schema in the repository (nothing read from outside it)."""
    kinds = {kind for (_version, kind) in crd_schemas()}
    assert kinds >= {"Gateway", "HTTPRoute", "InferencePool", "InferenceObjective", "PodMonitoring",
                     "HealthCheckPolicy", "GCPBackendPolicy"}, kinds


def test_the_shipped_inference_objective_crd_has_the_known_checksum():
    import hashlib  # pylint: disable=import-outside-toplevel

    with open(os.path.join(ROOT, "roles", "workload", "vars", "main.yml"), encoding="utf-8") as handle:
        known = yaml.safe_load(handle)["__workload_crd_checksums"]
    for version, checksum in known.items():
        path = os.path.join(ROOT, "roles", "workload", "files", "crds", version,
                            "inference.networking.x-k8s.io_inferenceobjectives.yaml")
        with open(path, "rb") as handle:
            assert "sha256:" + hashlib.sha256(handle.read()).hexdigest() == checksum, version
