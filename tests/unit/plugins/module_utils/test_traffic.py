"""The request generator as the in-cluster Job runs it (python3 traffic.py settings.json): one line per request as
it completes and a summary, against a small OpenAI-style server on this machine; and the Job the module builds."""

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ansible_collections.gke_inference.multicluster.plugins.module_utils import traffic
from ansible_collections.gke_inference.multicluster.plugins.modules.inference_traffic import manifests, parse


class Server(BaseHTTPRequestHandler):
    def log_message(self, *args):
        return

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = body["model"] == "m"
        self.send_response(200 if ok else 404)
        self.send_header("x-served-region", "us-east5")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def settings(url, **extra):
    out = dict(url=url, api="chat", model="m", prompt="p", max_tokens=5, rate=20, duration=1, stages=None,
               stop_file=None, timeout=5, max_in_flight=10, region_header="x-served-region", proxy="", metrics=[],
               metrics_interval=1)
    out.update(extra)
    return out


def test_the_program_prints_every_request_and_a_summary(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        path = tmp_path / "settings.json"
        path.write_text(json.dumps(settings("http://127.0.0.1:%d" % server.server_address[1])))
        env = dict(os.environ)
        for name in ("http_proxy", "HTTP_PROXY", "no_proxy", "NO_PROXY"):
            env.pop(name, None)
        done = subprocess.run([sys.executable, traffic.__file__, str(path)], capture_output=True, text=True, timeout=60,
                              check=False, env=env)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    records, samples, summary = parse(done.stdout)
    assert summary["sent"] == len(records) == 20 and summary["ok"] == 20 and summary["by_region"] == {"us-east5": 20}
    assert samples == [] and all(r["ok"] and r["status"] == 200 and r["latency"] >= 0 for r in records)
    assert [r["start"] for r in records] == sorted(r["start"] for r in records)


def test_the_job_is_pinned_unprivileged_and_holds_no_secret():
    run_in = {"kubeconfig": "k", "context": None, "namespace": "ops", "image": "python:3.12.12-slim-bookworm",
              "name": "t", "start_timeout": 300}
    params = settings("http://10.0.2.2", proxy="", run_in=run_in)
    configmap, job = manifests(params, "t-abc123")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "python:3.12.12-slim-bookworm" and pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] and container["securityContext"]["allowPrivilegeEscalation"] is False
    assert "secretKeyRef" not in json.dumps(job) and "secret" not in json.dumps(pod["volumes"])
    assert configmap["data"]["traffic.py"] == open(traffic.__file__, encoding="utf-8").read()
    assert json.loads(configmap["data"]["settings.json"])["stop_file"] is None
    assert job["spec"]["backoffLimit"] == 0 and job["spec"]["activeDeadlineSeconds"] == 1 + 5 + 300 + 60


def test_a_generator_held_up_still_sends_what_the_schedule_has(monkeypatch):
    """A busy machine holds the generator up at the end of a stage (here a wait 0.85 s into the first, 1 s long,
    lasts 0.5 s): it sends the late requests as soon as it can, so the two places it runs from (the controller and
    the Job) send the same number."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real_sleep, held, began = traffic.time.sleep, [], traffic.time.time()

    def sleep(seconds):
        if not held and traffic.time.time() - began > 0.85:
            held.append(seconds)
            seconds = 0.5
        real_sleep(seconds)
    monkeypatch.setattr(traffic.time, "sleep", sleep)
    try:
        stream = traffic.Stream(settings("http://127.0.0.1:%d" % server.server_address[1],
                                         stages=[{"rate": 20, "duration": 1}, {"rate": 10, "duration": 0.5}]))
        summary = stream.run()
    finally:
        monkeypatch.setattr(traffic.time, "sleep", real_sleep)
        server.shutdown()
    assert held and summary["sent"] == 25 and summary["ok"] == 25
    assert [sum(1 for r in stream.records if r["stage"] == stage) for stage in (0, 1)] == [20, 5]
