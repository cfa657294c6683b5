"""The emulator's life: start on a free port, a clear refusal of a taken one, a stale pid file, and
snapshots that bring a whole emulated project back."""

import os
import socket
import subprocess
import sys

import pytest

from emulator import Emulator
from emulator.core import ApiError
from emulator.kube import KubeCluster

TESTS = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEY = "container:projects/p/locations/us-east5-b/clusters/c"


def emulator(*args, **kwargs):
    env = dict(os.environ, PYTHONPATH=TESTS)
    env.pop("EMULATOR_PORT", None)
    return subprocess.run([sys.executable, "-m", "emulator"] + list(args), env=env, capture_output=True, text=True,
                          timeout=60, check=False, **kwargs)


def test_start_takes_a_free_port_and_stop_ends_it(tmp_path):
    state = str(tmp_path / "state")
    started = emulator("start", "--state-dir", state)
    try:
        assert started.returncode == 0, started.stderr
        endpoint = started.stdout.strip()
        assert endpoint.startswith("http://127.0.0.1:") and not endpoint.endswith(":8089")
        assert os.path.exists(os.path.join(state, "emulator.pid"))
        second = emulator("start", "--state-dir", str(tmp_path / "other"))  # a second one at once
        assert second.returncode == 0 and second.stdout.strip() != endpoint, second.stderr
        assert emulator("stop", "--state-dir", str(tmp_path / "other")).returncode == 0
    finally:
        stopped = emulator("stop", "--state-dir", state)
    assert stopped.returncode == 0 and "emulator stopped" in stopped.stdout
    assert not os.path.exists(os.path.join(state, "emulator.pid"))


def test_a_taken_port_is_refused_at_once_with_the_fix(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = emulator("start", "--state-dir", str(tmp_path), "--port", str(port))
    assert result.returncode != 0
    assert "port %d" % port in result.stderr and "EMULATOR_PORT" in result.stderr
    assert not os.path.exists(tmp_path / "emulator.pid")


def test_a_stale_pid_file_is_removed_and_nothing_killed(tmp_path):
    (tmp_path / "emulator.pid").write_text("999999999")
    result = emulator("stop", "--state-dir", str(tmp_path))
    assert result.returncode == 0 and "stale" in result.stdout
    assert not os.path.exists(tmp_path / "emulator.pid")
    # a pid that is alive but not an emulator's (this test's, whose command line names the emulator's tests) is
    # not killed either
    (tmp_path / "emulator.pid").write_text(str(os.getpid()))
    result = emulator("stop", "--state-dir", str(tmp_path))
    assert result.returncode == 0 and "stale" in result.stdout


def make(emu):
    cluster = {"nodePools": [], "addonsConfig": {}}
    emu.store[KEY] = cluster
    kube = KubeCluster(emu, KEY, cluster)
    emu.kube[KEY] = kube
    return kube


def test_a_snapshot_brings_back_google_and_kubernetes_state():
    emu = Emulator(latency_scale=0.0, project="p", project_number="1")
    kube = make(emu)
    crd = kube.crd_object("example.com", ["v1"], "widgets", "Widget", True, [])
    kube.put("apiextensions.k8s.io", "customresourcedefinitions", crd)
    kube.register_crd(crd)
    kube.put("example.com", "widgets", {"metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 3}})
    emu.store["storage:b/bucket"] = {"name": "bucket"}
    raw = emu.snapshot()
    old_port = kube.port
    kube.stop()

    other = Emulator(latency_scale=0.0, project="q", project_number="2")
    other.load(raw)
    try:
        assert other.store["storage:b/bucket"] == {"name": "bucket"}
        assert set(other.projects) == {"p"}
        restored = other.kube[KEY]
        assert restored.get("example.com", "widgets", "default", "w")["spec"] == {"size": 3}
        assert ("example.com", "widgets") in restored.kinds  # the CRD's kind is served again
        assert restored.port != old_port and other.store[KEY]["endpoint"] == "127.0.0.1:%d" % restored.port
    finally:
        other.reset()


def test_no_snapshot_while_an_operation_is_pending():
    emu = Emulator(latency_scale=1.0, project="p", project_number="1")
    emu.start_operation("compute", "compute.networks.insert", lambda: None, {"target": "x"})
    with pytest.raises(ApiError) as err:
        emu.snapshot()
    assert err.value.code == 409
