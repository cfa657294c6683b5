"""Shared fixtures: an in-process emulator, and modules run in-process against it.

The modules run for real (their ``main()``, the real client libraries, HTTP to the emulator); only
the Ansible controller is skipped, which makes each call take milliseconds instead of seconds.
"""

import contextlib
import importlib
import io
import json
import os
import sys
import time
import urllib.request

import socket
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, ".collections"))
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")

from emulator import Emulator, serve  # noqa: E402
from emulator.__main__ import load_latency, make_service_account  # noqa: E402

PROJECT = "test-project-1"
BASE_SERVICES = ("compute.googleapis.com", "container.googleapis.com", "cloudresourcemanager.googleapis.com",
                 "storage.googleapis.com", "serviceusage.googleapis.com", "gkehub.googleapis.com", "iam.googleapis.com")


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", None)
OUTSIDE_CALLS = []
_getaddrinfo = socket.getaddrinfo


def _local_only(host, *args, **kwargs):
    """No test may reach anything but loopback (real Google endpoints above all)."""
    if host not in LOCAL_HOSTS and not str(host).startswith("127."):
        OUTSIDE_CALLS.append(host)
        raise OSError("tests may only connect to loopback, not %s" % host)
    return _getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _local_only


@pytest.fixture(autouse=True)
def no_outside_calls():
    del OUTSIDE_CALLS[:]
    yield
    assert not OUTSIDE_CALLS, "the test tried to reach %s" % sorted(set(OUTSIDE_CALLS))


def start_emulator(folder, project=PROJECT):
    """An emulator in this process, its endpoint and a service-account key file for it."""
    emu = Emulator(latency_scale=0.002, latency=load_latency(), project=project, project_number="123456789012")
    server = serve(emu)
    endpoint = "http://127.0.0.1:%d" % server.server_address[1]
    key_file = str(folder / "sa.json")
    make_service_account(emu, key_file, project, endpoint)
    return emu, server, endpoint, key_file


def stop_emulator(emu, server):
    server.shutdown()
    server.server_close()
    emu.reset()  # stops the clusters' API servers and the data plane's model servers
    emu.dataplane.stop()


@pytest.fixture(scope="session")
def emulator_server(tmp_path_factory):
    emu, server, endpoint, key_file = start_emulator(tmp_path_factory.mktemp("creds"))
    yield emu, endpoint, key_file
    stop_emulator(emu, server)


class Gcp:
    """The emulator as a test sees it, and a way to run a module against it."""

    def __init__(self, emu, endpoint, key_file, project=PROJECT):
        self.emu, self.endpoint, self.key_file = emu, endpoint, key_file
        self.project = project

    def control(self, method, path, body=None):
        req = urllib.request.Request(self.endpoint + "/_emulator/" + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"{}")

    def fault(self, method, **fault):
        return self.control("POST", "faults", dict(fault, method=method))

    def end_operations(self):
        """Let every emulated operation still running end now: a test keeps one running (a long latency or stall)
        for as long as a busy machine needs to look at it, then does not wait for it."""
        with self.emu.lock:
            for op in self.emu.operations.values():
                if not op.done:
                    op.done_at = time.time()

    def requests(self, mutating=False):
        entries = self.control("GET", "requests")["requests"]
        if mutating:
            entries = [e for e in entries if e["method"] != "GET" and not (e["method_id"] or "").endswith(
                ("getIamPolicy", "testIamPermissions", "batchGet", "get", "list"))
                and e.get("changed", True)]  # Kubernetes: a no-op patch (kubernetes.core apply sends one) is not a change
        return entries

    def resource(self, key):
        return self.control("GET", "state")["resources"].get(key)

    def resources(self, prefix=""):
        return {k: v for k, v in self.control("GET", "state")["resources"].items() if k.startswith(prefix)}

    def _args(self, check, diff, auth, args):
        full = {"project": self.project, "api_endpoint": self.endpoint}
        if auth:
            full.update(auth_kind="serviceaccount", service_account_file=self.key_file)
        full.update(args)
        full = {k: v for k, v in full.items() if v is not None}
        full["_ansible_check_mode"] = check
        full["_ansible_diff"] = diff
        return full

    @staticmethod
    def _result(text):
        try:
            return json.loads(text[text.index("{"):])
        except ValueError:
            raise AssertionError("module printed no JSON result: %r" % text)

    def run(self, module, check=False, diff=True, auth=True, **args):
        """Run ``gke_inference.multicluster.<module>`` in-process and return its result dict.

        Not thread-safe (the module's arguments and stdout are process-wide): use ``start`` for
        modules that must run at the same time.
        """
        from ansible.module_utils.testing import patch_module_args

        full = self._args(check, diff, auth, args)
        mod = importlib.import_module("ansible_collections.gke_inference.multicluster.plugins.modules." + module)
        out = io.StringIO()
        with patch_module_args(full), contextlib.redirect_stdout(out):
            try:
                mod.main()
            except SystemExit:
                pass
        return self._result(out.getvalue())

    def start(self, module, check=False, diff=True, auth=True, **args):
        """Start the module in its own Python process, as Ansible does; ``finish`` returns its result."""
        path = os.path.join(ROOT, ".collections", "ansible_collections", "gke_inference", "multicluster",
                            "plugins", "modules", module + ".py")
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, ".collections"))
        proc = subprocess.Popen([sys.executable, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        proc.stdin.write(json.dumps({"ANSIBLE_MODULE_ARGS": self._args(check, diff, auth, args)}))
        proc.stdin.close()
        return proc

    def finish(self, proc, timeout=120):
        proc.wait(timeout)
        out, err = proc.stdout.read(), proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
        if not out.strip():
            raise AssertionError("module printed no JSON result (exit %s): %s" % (proc.returncode, err))
        return self._result(out)


_STAGES = {}


def staged(gcp, name, build):
    """The emulated project after ``build(gcp)``: built (and asserted) by the first test that asks for
    ``name``, saved as a snapshot, and loaded for every later one instead of being built again."""
    raw = _STAGES.get(name)
    if raw is None:
        build(gcp)
        _STAGES[name] = gcp.emu.snapshot()
    else:
        gcp.emu.load(raw)
    return gcp


@pytest.fixture
def gcp(emulator_server):
    emu, endpoint, key_file = emulator_server
    emu.reset()
    for service in BASE_SERVICES:
        emu.projects[PROJECT]["services"].add(service)
    return Gcp(emu, endpoint, key_file)
