"""An emulated model server runs what its pod hands vLLM: the --middleware classes from the pod's ConfigMap
volumes on its PYTHONPATH, with the pod's env. Driven with the workload role's real middleware file."""

import http.client
import os
import subprocess
import sys

import pytest

from emulator.dataplane import runtime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FILES = os.path.join(ROOT, "roles", "workload", "files")
TESTS = os.path.join(ROOT, "tests")


def start(*extra, env=None):
    proc = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "emulator.model_server", "--served-model-name", "m", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([TESTS, FILES]), **(env or {})))
    return proc, proc.stdout.readline().strip()


def get(port, method="GET", path="/health", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp, data


@pytest.fixture
def procs():
    started = []
    yield started
    for proc in started:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_the_region_middleware_names_the_region_on_every_response(procs):
    proc, port = start("--middleware", "gke_region_header.RegionHeader", env={"GKE_SERVED_REGION": "us-east5"})
    procs.append(proc)
    assert port, proc.stderr.read()
    resp = get(port)[0]
    assert resp.status == 200 and resp.getheader("x-served-region") == "us-east5"
    resp, data = get(port, "POST", "/v1/completions", b'{"model": "m", "prompt": "hi", "max_tokens": 2}')
    assert resp.status == 200 and resp.getheader("x-served-region") == "us-east5"
    assert int(resp.getheader("Content-Length")) == len(data) and b'"text_completion"' in data
    resp = get(port, "POST", "/v1/completions", b'{"model": "other", "prompt": "hi"}')[0]
    assert resp.status == 404 and resp.getheader("x-served-region") == "us-east5"  # errors too


def test_without_middleware_no_region_header(procs):
    proc, port = start(env={"GKE_SERVED_REGION": "us-east5"})
    procs.append(proc)
    resp = get(port)[0]
    assert resp.status == 200 and resp.getheader("x-served-region") is None


def test_a_middleware_that_cannot_be_imported_stops_the_server(procs):
    proc, port = start("--middleware", "no_such_module.RegionHeader")
    procs.append(proc)
    assert port == b""
    assert proc.wait(timeout=10) != 0
    assert b"ModuleNotFoundError: No module named 'no_such_module'" in proc.stderr.read()


class Store:
    def __init__(self, objects):
        self.objects = objects

    def get(self, group, plural, namespace, name):
        return self.objects.get((group, plural, namespace, name))


def test_runtime_reads_args_env_and_mounted_configmaps():
    pod = {"metadata": {"namespace": "default"}, "spec": {
        "volumes": [{"name": "mw", "configMap": {"name": "vllm-middleware"}}, {"name": "dshm", "emptyDir": {}}],
        "containers": [{"name": "vllm", "image": "vllm/vllm-tpu:v0.12.0",
                        "command": ["python3", "-m", "vllm.entrypoints.openai.api_server"],
                        "args": ["--served-model-name=m", "--middleware=a.B", "--middleware", "c.D"],
                        "env": [{"name": "GKE_SERVED_REGION", "value": "europe-west4"},
                                {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
                        "volumeMounts": [{"name": "mw", "mountPath": "/opt/mw/"}, {"name": "dshm", "mountPath": "/dev/shm"}]}]}}
    kube = Store({("", "configmaps", "default", "vllm-middleware"): {"data": {"a.py": "class B: pass\n"}}})
    assert runtime(kube, pod) == {"middleware": ["a.B", "c.D"], "env": {"GKE_SERVED_REGION": "europe-west4"},
                                  "files": {"/opt/mw": {"a.py": "class B: pass\n"}}}
