"""The emulated data plane: model-server processes and the cross-region gateway, on loopback only.

- One ``emulator.model_server`` process per ready model-server pod (a pod that mounts the weights and is
  not a Job's), started when the pod turns Ready and sent SIGTERM when the pod object is gone (a graceful
  deletion keeps it for the pod's preStop, see ``kube_common.terminate``).
- Each Programmed multi-cluster Gateway answers on every address in its status. The emulator's HTTP
  port is the way in: it is an HTTP forward proxy, so ``curl -x http://127.0.0.1:8089 http://10.0.1.2/``
  reaches the gateway whose address is 10.0.1.2, as a client in that region's VPC would.
- The gateway behaves as GKE documents it: endpoints are the ready, non-terminating pods of the
  exported InferencePools (changes reach the load balancer after ``dataplane.endpoint_sync``); a new
  endpoint serves only after ``healthyThreshold`` passing health checks and is dropped after
  ``unhealthyThreshold`` failures, probed every ``checkIntervalSec`` with ``timeoutSec`` per the
  HealthCheckPolicy; the region preferred by the GCPBackendPolicy (else the region of the address the
  client used) takes the traffic until its custom metric (KV-cache usage scraped from ``/metrics``)
  passes ``maxUtilizationPercent``, then the traffic spills to the least-utilized region; with no
  healthy endpoint in a region the traffic fails over. The gateway adds no header of its own (GKE's adds
  none); it passes the model server's response headers through.
- A model server runs what its pod gives vLLM: the ``--middleware`` classes in the argv its image and
  ``command``/``args`` make (``images.argv``), imported from the
  pod's ConfigMap volumes on its ``PYTHONPATH``, with the pod's literal ``env`` values. That is how the
  workload role's ``x-served-region`` header reaches the client; a pod without it serves without it.
Data-plane times (health checks, preStop, endpoint sync, token latency) are multiplied by
``dataplane_scale``.
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from . import images
from .core import part
from .kube_scripts import configmap_files, write_mounts

# Not passed from a backend's response to the client: hop-by-hop headers and those the proxy writes itself.
HOP_HEADERS = ("connection", "keep-alive", "transfer-encoding", "content-length", "content-type", "server", "date")
HERE = os.path.dirname(os.path.abspath(__file__))


def _vllm(pod):
    """The model-server container and the options of the vLLM server its argv runs, or (None, None)."""
    for container in pod["spec"].get("containers", []):
        options = images.vllm_options(container)
        if options is not None:
            return container, options
    return None, None


def is_model_server(pod):
    if any(ref.get("kind") == "Job" for ref in pod["metadata"].get("ownerReferences", [])):
        return False
    return _vllm(pod)[0] is not None


def served_model(pod):
    options = _vllm(pod)[1]
    return options["served-model-name"][0] if options else ""


def runtime(kube, pod):
    """What the model-server container hands vLLM: its --middleware options, its literal env values and the
    files of the ConfigMap volumes it mounts ({mount path: {file name: text}})."""
    container, options = _vllm(pod)
    middleware = list(options.get("middleware", []))
    env = {e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e}
    return {"middleware": middleware, "env": env, "files": configmap_files(kube, pod, container)}


def pod_ready(pod):
    return not pod["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


class Endpoint:
    def __init__(self, key, region, cluster, pod_name, labels):
        self.key, self.region, self.cluster, self.pod_name, self.labels = key, region, cluster, pod_name, labels
        self.healthy = False
        self.passes = self.fails = 0
        self.next_check = 0.0
        self.usage = 0.0
        self.in_flight = 0


@part("dataplane")
class DataPlane:
    def __init__(self, emu):
        self.emu = emu
        self.lock = threading.Lock()
        self.processes = {}  # pod uid -> (Popen, port)
        self.pod_dirs = {}  # pod uid -> the folder holding its mounted ConfigMap files and its stderr
        self.endpoints = {}  # pod uid -> Endpoint, as the load balancer sees them
        self.pending = {}  # pod uid -> (time the change reaches the load balancer, Endpoint or None)
        self.gateways = {}  # ip -> gateway view (see _gateways)
        self.served = {}  # region -> requests answered through a gateway
        self.pod_ips = {}  # pod IP -> pod uid (VPC-native pod IPs are reachable from the VPC)
        self.thread = None
        self.stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------
    def ensure_running(self):
        if self.thread is None:
            self.thread = threading.Thread(target=self._loop, name="dataplane", daemon=True)
            self.thread.start()

    def stop(self):
        self.stopping.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout=5)
        for proc, _port in list(self.processes.values()):
            self._kill(proc)
        self.processes.clear()
        for folder in self.pod_dirs.values():
            shutil.rmtree(folder, ignore_errors=True)
        self.pod_dirs.clear()

    @property
    def scale(self):
        return self.emu.dataplane_scale

    def seconds(self, name, default):
        return float(self.emu.latency.get("dataplane." + name, default)) * self.scale

    def _loop(self):
        while not self.stopping.is_set():
            # reset() stops the data plane while it holds the emulator's lock: never block on it
            if not self.emu.lock.acquire(timeout=0.05):
                continue
            try:
                try:
                    self.emu.tick()
                    self.emu.reconcile()
                    pods, gateways = self._observe()
                finally:
                    self.emu.lock.release()
                self._sync_processes(pods)
                self._sync_endpoints(pods)
                with self.lock:
                    self.gateways = gateways
                    self.pod_ips = {info["ip"]: uid for uid, info in pods.items() if info["ip"]}
                self._health_checks(gateways)
            except Exception as exc:  # pylint: disable=broad-except
                sys.stderr.write("dataplane: %r\n" % (exc,))
            self.stopping.wait(0.05)

    # -- what the clusters say -------------------------------------------------------------------
    def _observe(self):
        """Model-server pods ({uid: info}) and programmed gateways ({ip: view}), read under the lock."""
        pods, gateways = {}, {}
        for kube in list(self.emu.kube.values()):
            for pod in kube.list("", "pods"):
                if is_model_server(pod):
                    pods[pod["metadata"]["uid"]] = {
                        "region": kube.region, "cluster": kube.name, "name": pod["metadata"]["name"],
                        "namespace": pod["metadata"]["namespace"], "labels": dict(pod["metadata"].get("labels") or {}),
                        "ready": pod_ready(pod), "running": pod["status"].get("phase") == "Running",
                        "model": served_model(pod), "project": kube.project, "ip": pod["status"].get("podIP")}
                    if pods[pod["metadata"]["uid"]]["ready"] and pod["metadata"]["uid"] not in self.processes:
                        pods[pod["metadata"]["uid"]]["runtime"] = runtime(kube, pod)
            for gateway in kube.list("gateway.networking.k8s.io", "gateways"):
                gateways.update(self._gateway_view(kube, gateway))
        return pods, gateways

    def _gateway_view(self, kube, gateway):
        status = gateway.get("status") or {}
        if not any(c["type"] == "Programmed" and c["status"] == "True" for c in status.get("conditions", [])):
            return {}
        ns = gateway["metadata"]["namespace"]
        ports = {int(listener.get("port", 80)) for listener in gateway["spec"].get("listeners") or []}
        routes = [r for r in kube.list("gateway.networking.k8s.io", "httproutes", ns)
                  if any(p.get("name") == gateway["metadata"]["name"] for p in r["spec"].get("parentRefs") or [])]
        pools = []
        for route in routes:
            for rule in route["spec"].get("rules") or []:
                for ref in rule.get("backendRefs") or []:
                    if ref.get("kind") == "GCPInferencePoolImport":
                        pools.append(ref["name"])
        pool = pools[0] if pools else None
        selectors = []
        imported = kube.get("networking.gke.io", "gcpinferencepoolimports", ns, pool or "")
        for member in (imported or {}).get("status", {}).get("clusters", []):
            other = next((k for k in self.emu.kube.values() if k.name == member["membership"]
                          and k.project == kube.project), None)
            source = other.get("inference.networking.k8s.io", "inferencepools", ns, pool) if other else None
            if source is not None:
                selectors.append((other.name, source["spec"].get("selector", {}).get("matchLabels", {})))
        health = {"interval": 5, "timeout": 5, "healthy": 2, "unhealthy": 2, "path": "/"}
        metric = {"max": 80}
        preferred = None
        timeout = 30
        for policy in kube.list("networking.gke.io", "healthcheckpolicies", ns):
            if policy["spec"].get("targetRef", {}).get("name") == pool:
                spec = policy["spec"].get("default") or {}
                http_check = (spec.get("config") or {}).get("httpHealthCheck") or {}
                health = {"interval": spec.get("checkIntervalSec", 5), "timeout": spec.get("timeoutSec", 5),
                          "healthy": spec.get("healthyThreshold", 2), "unhealthy": spec.get("unhealthyThreshold", 2),
                          "path": http_check.get("requestPath", "/")}
        for policy in kube.list("networking.gke.io", "gcpbackendpolicies", ns):
            if policy["spec"].get("targetRef", {}).get("name") == pool:
                spec = policy["spec"].get("default") or {}
                custom = [m for m in spec.get("customMetrics") or [] if not m.get("dryRun")]
                if spec.get("balancingMode") == "CUSTOM_METRICS" and custom:
                    metric = {"max": custom[0].get("maxUtilizationPercent", 80)}
                timeout = spec.get("timeoutSec", timeout)
                for scope in spec.get("scopes") or []:
                    if scope.get("backendPreference") == "PREFERRED":
                        preferred = scope.get("selector", {}).get("gke.io/region")
        view = {"name": gateway["metadata"]["name"], "namespace": ns, "ports": ports, "selectors": selectors,
                "health": health, "metric": metric, "preferred": preferred, "timeout": timeout}
        out = {}
        for address in gateway["spec"].get("addresses") or []:
            found = self.emu.get("compute:projects/%s/%s" % (kube.project, address.get("value", ""))) or {}
            if found.get("address"):
                out[found["address"]] = dict(view, region=address["value"].split("/")[1])
        return out

    # -- model-server processes -----------------------------------------------------------------
    def _spawn(self, uid, info):
        run = info.get("runtime") or {"middleware": [], "env": {}, "files": {}}
        folder = self.pod_dirs[uid] = tempfile.mkdtemp(prefix="pod-")
        mounts = write_mounts(folder, run["files"])  # the container's mount paths -> where they are here
        path = [os.path.dirname(HERE)] + [
            mounts[m] + entry[len(m):] for entry in run["env"].get("PYTHONPATH", "").split(":") for m in mounts
            if entry.rstrip("/") == m or entry.startswith(m + "/")]
        argv = [sys.executable, "-m", "emulator.model_server", "--served-model-name", info["model"],
                "--kv-cache-tokens", str(int(self.emu.latency.get("dataplane.kv_cache_tokens", 1024))),
                "--ttft", str(self.seconds("ttft", 0.2)), "--tpot", str(self.seconds("tpot", 0.02))]
        for middleware in run["middleware"]:
            argv += ["--middleware", middleware]
        env = dict(os.environ, **run["env"])
        env["PYTHONPATH"] = os.pathsep.join(path)
        with open(os.path.join(folder, "stderr"), "wb") as errors:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=errors, env=env)  # pylint: disable=consider-using-with
        line = proc.stdout.readline()
        if not line.strip():  # it did not start: vLLM would crash-loop; the pod serves nothing
            with open(os.path.join(folder, "stderr"), encoding="utf-8", errors="replace") as errors:
                sys.stderr.write("dataplane: the model server of pod %s/%s did not start:\n%s" % (
                    info["namespace"], info["name"], errors.read()[-2000:]))
        return proc, int(line.strip() or 0)

    @staticmethod
    def _kill(proc):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
        if proc.stdout:
            proc.stdout.close()

    def _sync_processes(self, pods):
        for uid in [u for u in self.processes if u not in pods]:
            proc, _port = self.processes.pop(uid)
            self._kill(proc)
            shutil.rmtree(self.pod_dirs.pop(uid, ""), ignore_errors=True)
        for uid, info in pods.items():
            if info["ready"] and uid not in self.processes:
                self.processes[uid] = self._spawn(uid, info)

    def port_of(self, uid):
        entry = self.processes.get(uid)
        return entry[1] if entry else None

    # -- the load balancer's view of the endpoints ------------------------------------------------
    def _sync_endpoints(self, pods):
        now = time.time()
        delay = self.seconds("endpoint_sync", 5)
        with self.lock:
            wanted = {uid for uid, info in pods.items() if info["ready"]}
            for uid in wanted - set(self.endpoints):
                if uid not in self.pending:
                    info = pods[uid]
                    endpoint = Endpoint(uid, info["region"], info["cluster"], info["name"], info["labels"])
                    self.pending[uid] = (now + delay, endpoint)
            for uid in set(self.endpoints) - wanted:
                if uid not in self.pending:
                    self.pending[uid] = (now + delay, None)
            for uid in [u for u, (_t, ep) in self.pending.items() if (ep is None) == (u in wanted)]:
                self.pending.pop(uid)  # the change was undone before it propagated
            for uid, (due, endpoint) in list(self.pending.items()):
                if due <= now:
                    self.pending.pop(uid)
                    if endpoint is None:
                        self.endpoints.pop(uid, None)
                    else:
                        self.endpoints[uid] = endpoint

    def _members(self, view):
        """The load balancer's endpoints behind a gateway view."""
        with self.lock:
            return [ep for ep in self.endpoints.values()
                    if any(ep.cluster == cluster and all(ep.labels.get(k) == v for k, v in selector.items())
                           for cluster, selector in view["selectors"])]

    def _health_checks(self, gateways):
        now = time.time()
        checks = {}
        for view in gateways.values():
            for endpoint in self._members(view):
                checks[endpoint.key] = (endpoint, view["health"])
        for endpoint, health in checks.values():
            if endpoint.next_check > now:
                continue
            endpoint.next_check = now + max(0.01, health["interval"] * self.scale)
            port = self.port_of(endpoint.key)
            ok = False
            if port:
                try:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=max(0.05, health["timeout"] * self.scale))
                    conn.request("GET", health["path"])
                    resp = conn.getresponse()
                    resp.read()
                    ok = resp.status == 200
                    conn.request("GET", "/metrics")
                    endpoint.usage = parse_usage(conn.getresponse().read().decode())
                    conn.close()
                except (OSError, http.client.HTTPException):
                    ok = False
            if ok:
                endpoint.passes, endpoint.fails = endpoint.passes + 1, 0
                if endpoint.passes >= health["healthy"]:
                    endpoint.healthy = True
            else:
                endpoint.passes, endpoint.fails = 0, endpoint.fails + 1
                if endpoint.fails >= health["unhealthy"]:
                    endpoint.healthy = False

    # -- routing ---------------------------------------------------------------------------------
    def choose(self, view):
        """The endpoint a request through ``view`` goes to, or None when no region has a healthy one."""
        by_region = {}
        for endpoint in self._members(view):
            if endpoint.healthy:
                by_region.setdefault(endpoint.region, []).append(endpoint)
        if not by_region:
            return None
        utilization = {r: 100.0 * sum(e.usage for e in eps) / len(eps) for r, eps in by_region.items()}
        preferred = view["preferred"] or view["region"]
        order = sorted(by_region, key=lambda r: (r != preferred, utilization[r], r))
        region = next((r for r in order if utilization[r] < view["metric"]["max"]), None)
        if region is None:  # every region is over its target: the least utilized takes it
            region = min(order, key=lambda r: (utilization[r], r != preferred))
        return min(by_region[region], key=lambda e: (e.in_flight, e.key))

    def state(self):
        with self.lock:
            endpoints = [{"pod": e.pod_name, "cluster": e.cluster, "region": e.region, "healthy": e.healthy,
                          "usage": e.usage, "in_flight": e.in_flight} for e in self.endpoints.values()]
            gateways = {ip: {"name": v["name"], "region": v["region"], "preferred": v["preferred"],
                             "max_utilization_percent": v["metric"]["max"], "health": v["health"]}
                        for ip, v in self.gateways.items()}
        return {"scale": self.scale, "processes": len(self.processes), "endpoints": endpoints,
                "gateways": gateways, "served": dict(self.served)}

    def proxy(self, handler):
        """Serve one forward-proxy request (absolute URI) from the emulator's HTTP handler."""
        url = urllib.parse.urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        with self.lock:
            view = self.gateways.get(url.hostname)
            pod = self.pod_ips.get(url.hostname)
        if view is None and pod is not None:  # straight to a pod, as from inside the VPC
            return self._forward(handler, url, body, self.port_of(pod), 30, None)
        if view is None or (url.port or 80) not in view["ports"]:
            return self._reply(handler, 504, {"error": "no gateway answers at %s:%s (is it Programmed?)" % (
                url.hostname, url.port or 80)})
        endpoint = self.choose(view)
        if endpoint is None:
            return self._reply(handler, 503, "no healthy upstream", "text/plain")
        return self._forward(handler, url, body, self.port_of(endpoint.key), view["timeout"], endpoint)

    def _forward(self, handler, url, body, port, timeout, endpoint):
        if endpoint is not None:
            endpoint.in_flight += 1
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port or 9, timeout=timeout)
            headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "proxy-connection")}
            conn.request(handler.command, url.path + ("?" + url.query if url.query else ""), body=body,
                         headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            passed = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_HEADERS]
            conn.close()
        except (OSError, http.client.HTTPException):
            return self._reply(handler, 503, "upstream connect error or disconnect/reset before headers. "
                               "reset reason: connection termination", "text/plain")
        finally:
            if endpoint is not None:
                endpoint.in_flight -= 1
        if endpoint is not None:
            with self.lock:
                self.served[endpoint.region] = self.served.get(endpoint.region, 0) + 1
        return self._reply(handler, resp.status, data, resp.getheader("Content-Type", "application/json"), passed)

    @staticmethod
    def _reply(handler, status, payload, content_type="application/json", headers=()):
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers:  # the backend's own headers, as the load balancer passes them on
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)


def parse_usage(text):
    for line in text.splitlines():
        if line.startswith("vllm:kv_cache_usage_perc"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
