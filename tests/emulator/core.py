"""The emulator's core: in-memory state, operations, faults, request log, auth and HTTP dispatch.

Per-API behaviour lives in small modules (compute, storage, ...) that register handlers by
discovery method id with :func:`handler`. Everything else - routing, body validation against the
discovery documents, authentication, API enablement, fault injection, latency - happens here once.
"""

import base64
import fnmatch
import hashlib
import itertools
import pickle  # nosec - snapshots are files the test run itself wrote
import threading
import time
import urllib.parse
from datetime import datetime, timezone

from google.auth import jwt

from .discovery import Registry


HANDLERS = {}


SNAPSHOT_VERSION = 1


STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    409: "ALREADY_EXISTS", 412: "FAILED_PRECONDITION", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
    501: "UNIMPLEMENTED", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}


GRPC_CODES = {
    "INVALID_ARGUMENT": 3, "DEADLINE_EXCEEDED": 4, "NOT_FOUND": 5, "ALREADY_EXISTS": 6, "PERMISSION_DENIED": 7,
    "RESOURCE_EXHAUSTED": 8, "FAILED_PRECONDITION": 9, "ABORTED": 10, "INTERNAL": 13, "UNAVAILABLE": 14,
    "UNAUTHENTICATED": 16,
}


# Services enabled in a new project (as in a real project created from the console).
DEFAULT_ENABLED = ("serviceusage.googleapis.com", "storage.googleapis.com", "storage-api.googleapis.com")


def handler(*method_ids):
    def register(func):
        for method_id in method_ids:
            HANDLERS[method_id] = func
        return func
    return register


# What the other modules of the emulator register at import time (the package's __init__ imports them all),
# so that this module imports none of them: the REST handlers above; the parts an Emulator is made of
# ("dataplane": DataPlane(emu), "cluster": KubeCluster(emu, key, cluster), "control": handle(emu, ...));
# the clusters' controllers, run before and after every Kubernetes request; and the hooks that take over a
# Kubernetes deletion (graceful pod termination, finalizers).
PARTS = {}


CONTROLLERS = []


DELETION_HOOKS = []


def part(name):
    def register(factory):
        PARTS[name] = factory
        return factory
    return register


def controller(func):
    CONTROLLERS.append(func)
    return func


def deletion_hook(func):
    DELETION_HOOKS.append(func)
    return func


def now_rfc3339():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class ApiError(Exception):
    """An error answered to the client the way the Google API does."""

    def __init__(self, code, message, status=None, reason=None, metadata=None, domain="googleapis.com"):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.reason, self.metadata, self.domain = reason, metadata or {}, domain

    def body(self):
        error = {"code": self.code, "message": self.message, "status": self.status}
        if self.reason:
            error["errors"] = [{"message": self.message, "domain": "global", "reason": self.reason}]
            error["details"] = [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": self.reason,
                "domain": self.domain, "metadata": self.metadata,
            }]
        return {"error": error}


def not_found(what):
    return ApiError(404, "The resource '%s' was not found" % what, reason="notFound")


class Operation:
    """A long-running operation that completes ``delay`` seconds after it was started."""

    def __init__(self, name, api, delay, on_done, info=None):
        self.name, self.api, self.info = name, api, info or {}
        self.started = time.time()
        self.done_at = self.started + delay
        self.on_done = on_done
        self.done = False
        self.error = None  # dict: code (str), message, http_status
        self.response = None

    def finish(self):
        self.done = True
        if self.error is None:
            try:
                self.response = self.on_done()
            except ApiError as exc:
                self.error = {"code": exc.reason or exc.status, "message": exc.message, "http_status": exc.code}
        elif self.info.get("on_error"):
            self.info["on_error"]()


class Emulator:
    """In-memory state of the emulated Google Cloud control plane."""

    def __init__(self, latency_scale=0.01, latency=None, project=None, project_number=None, dataplane_scale=None):
        self.lock = threading.RLock()
        self.initial_dataplane_scale = latency_scale if dataplane_scale is None else dataplane_scale
        self.registry = Registry()
        self.latency_scale = latency_scale
        self.latency = dict(latency or {})
        self.initial_latency = dict(self.latency)
        self.default_project = (project, project_number)
        self.keys = {}  # service-account email -> public key PEM
        self.tokens = set()
        self.token_expiry = {}  # issued token -> when it stops being accepted (tokens added by tests never do)
        self.token_lifetime = 3599.0
        self.counter = itertools.count(1000)
        self.reset()

    # -- state ---------------------------------------------------------------------------------
    def reset(self):
        with self.lock:
            for kube in getattr(self, "kube", {}).values():
                kube.stop()
            if getattr(self, "dataplane", None) is not None:
                self.dataplane.stop()
            self.dataplane = PARTS["dataplane"](self)
            self.kube = {}  # container key -> kube.KubeCluster (the cluster's Kubernetes API)
            self.kube_state = {}  # fleet-level controller bookkeeping
            self.projects = {}
            self.store = {}
            self.reserved = set()
            self.operations = {}
            self.faults = []
            self.requests = []
            self.dataplane_scale = self.initial_dataplane_scale
            self.latency = dict(self.initial_latency)  # a test's POST /_emulator/config {"latency": ...} ends with it
            self.denied_permissions = set()  # testIamPermissions answers all but these
            self.quotas = {}  # region -> {metric: limit}
            self.cloud_quotas = {}  # Cloud Quotas id -> DimensionsInfos that come before the defaults
            if self.default_project[0]:
                self.add_project(*self.default_project)

    # -- snapshots -------------------------------------------------------------------------------
    def snapshot(self):
        """The emulated project, Google's side and every cluster's Kubernetes objects, as bytes.

        Taken once no operation is pending; ``load`` brings it back in this or another emulator
        (tests and Molecule scenarios start from a saved stage instead of deploying it again).
        """
        with self.lock:
            self.tick()
            pending = sorted(op.name for op in self.operations.values() if not op.done)
            if pending:
                raise ApiError(409, "cannot snapshot while operations are pending: %s" % ", ".join(pending))
            kube = {key: {"objects": dict(k.objects), "state": k.state, "logs": k.logs, "rv": next(k.rv),
                          "created": k.created} for key, k in self.kube.items()}
            return pickle.dumps({"version": SNAPSHOT_VERSION, "projects": self.projects, "store": self.store,
                                 "reserved": self.reserved, "kube_state": self.kube_state, "kube": kube})

    def load(self, raw):
        """Replace the whole state with a snapshot. Each cluster gets a new API server (new port and
        CA, as after a control-plane move): kubeconfigs must be written again, as gke_kubeconfig does."""
        data = pickle.loads(raw)  # nosec - a snapshot this emulator wrote
        if data.get("version") != SNAPSHOT_VERSION:
            raise ValueError("snapshot version %r, this emulator reads %d" % (data.get("version"), SNAPSHOT_VERSION))
        self.reset()
        with self.lock:
            self.projects, self.store, self.reserved = data["projects"], data["store"], data["reserved"]
            self.kube_state = data["kube_state"]
            for key, saved in data["kube"].items():
                cluster = self.store[key]
                kube = PARTS["cluster"](self, key, cluster)
                kube.objects, kube.state, kube.logs = PARTS["objects"](saved["objects"]), saved["state"], saved["logs"]
                kube.rv, kube.created = itertools.count(saved["rv"]), saved["created"]
                for crd in kube.list("apiextensions.k8s.io", "customresourcedefinitions"):
                    kube.register_crd(crd)
                cluster["endpoint"] = "127.0.0.1:%d" % kube.port
                cluster["masterAuth"] = {"clusterCaCertificate": kube.ca_b64}
                self.kube[key] = kube
            if self.kube:
                self.dataplane.ensure_running()

    def add_project(self, project_id, number=None, enabled=DEFAULT_ENABLED):
        number = str(number or int(hashlib.sha256(project_id.encode()).hexdigest(), 16) % 10 ** 12)
        self.projects[project_id] = {"projectId": project_id, "number": number, "services": set(enabled)}
        self.store["cloudresourcemanager:iam/" + project_id] = {
            "version": 1, "etag": self.etag(),
            "bindings": [{"role": "roles/owner", "members": ["user:owner@example.com"]}],
        }
        return self.projects[project_id]

    def project(self, ref):
        """A project by id or number, or a 403 like Google's for a project that does not exist."""
        for project in self.projects.values():
            if ref in (project["projectId"], project["number"]):
                return project
        raise ApiError(403, "Permission denied on resource project %s (or it may not exist)." % ref,
                       reason="CONSUMER_INVALID", metadata={"consumer": "projects/%s" % ref})

    def next_id(self):
        return str(next(self.counter)) + str(int(time.time() * 1000))[-6:]

    @staticmethod
    def etag():
        return base64.b64encode(hashlib.sha256(str(time.time_ns()).encode()).digest()[:8]).decode()

    def get(self, key):
        return self.store.get(key)

    def items(self, prefix):
        return [(k, v) for k, v in sorted(self.store.items()) if k.startswith(prefix)]

    # -- operations ----------------------------------------------------------------------------
    def delay_for(self, method_id):
        return self.latency.get(method_id, self.latency.get("default", 1.0)) * self.latency_scale

    def start_operation(self, api, method_id, on_done, info=None, prefix="operation-"):
        name = prefix + self.next_id()
        op = Operation(name, api, self.delay_for(method_id), on_done, info)
        fault = self.take_fault(method_id, "operation_error")
        if fault:
            op.error = dict(fault["operation_error"])
        self.operations[name] = op
        return op

    def tick(self):
        """Complete every operation whose time has come (called before each request)."""
        now = time.time()
        for op in list(self.operations.values()):
            if not op.done and op.done_at <= now:
                op.finish()

    def reconcile(self, kube=None):
        """Run every cluster controller once (under the lock): for every cluster, or for ``kube`` only and what
        spans clusters (the fleet). A Kubernetes request reconciles its own cluster; the data plane's loop, which
        runs while any cluster exists, reconciles them all every 50 ms, as the clusters' own controllers would."""
        for func in CONTROLLERS:
            func(self, kube)

    def take_over_deletion(self, kube, kind, obj, grace=None):
        """True when a controller takes over a Kubernetes deletion instead of the object going at once."""
        return any(hook(kube, kind, obj, grace) for hook in DELETION_HOOKS)

    def busy(self, target):
        """The pending operation on ``target``, if any (Google answers 'resource not ready')."""
        for op in self.operations.values():
            if not op.done and op.info.get("target") == target:
                return op
        return None

    # -- faults --------------------------------------------------------------------------------
    def add_fault(self, fault):
        fault = dict(fault)
        fault.setdefault("count", 1)
        self.faults.append(fault)

    def take_fault(self, method_id, kind):
        with self.lock:
            return self._take_fault_locked(method_id, kind)

    def _take_fault_locked(self, method_id, kind):
        for fault in self.faults:
            if kind in fault and fault["count"] > 0 and fnmatch.fnmatchcase(method_id, fault["method"]):
                fault["count"] -= 1
                return fault
        return None

    def check_service(self, project, service):
        if service not in project["services"]:
            raise ApiError(
                403,
                "%s API has not been used in project %s before or it is disabled. Enable it by visiting "
                "https://console.developers.google.com/apis/api/%s/overview?project=%s then retry."
                % (service, project["number"], service, project["number"]),
                reason="SERVICE_DISABLED",
                metadata={"service": service, "consumer": "projects/%s" % project["number"]},
            )

    # -- request handling ----------------------------------------------------------------------
    def dispatch(self, http_method, path, query, body, headers):
        """Answer one API request: (status, json body)."""
        candidates = [(m, p) for m, p in self.registry.match(http_method, path) if m.id in HANDLERS]
        if not candidates:
            known = self.registry.match(http_method, path)
            if known:
                raise ApiError(501, "Method %s is not emulated." % known[0][0].id)
            raise ApiError(404, "No API method matches %s %s." % (http_method, path))
        if len(candidates) > 1:  # e.g. container and gkehub operations share a path
            op_name = next((v for p in [c[1] for c in candidates] for k, v in p.items() if k == "operationsId"), None)
            op = self.operations.get(op_name) or next(
                (o for n, o in self.operations.items() if n.endswith("/operations/%s" % op_name)), None)
            candidates = [c for c in candidates if op is None or c[0].api == op.api] or candidates
        method, params = candidates[0]
        api = self.registry.apis[method.api]
        if not self.authenticated(headers.get("authorization", "")):
            raise ApiError(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                                "login cookie or other valid authentication credential.")
        fault = self.take_fault(method.id, "status")
        if fault:
            if fault.get("delay"):
                time.sleep(fault["delay"])
            raise ApiError(fault["status"], fault.get("message", "Injected fault for %s" % method.id),
                           status=fault.get("grpc_status"), reason=fault.get("reason"),
                           metadata=fault.get("metadata"))
        fault = self.take_fault(method.id, "delay")
        if fault:
            time.sleep(fault["delay"])
        if method.request:
            if not isinstance(body, dict):
                raise ApiError(400, "Invalid JSON payload received: a JSON object is required.")
            message = api.validate(method.request, body)
            if message:
                raise ApiError(400, message, reason="invalid")
            body = api.enum_names(method.request, body)
        with self.lock:
            self.tick()
            ctx = Context(self, method, api, params, query, body)
            if method.api != "serviceusage":
                project = ctx.project()
                if project is not None:
                    self.check_service(project, api.service_name)
            return HANDLERS[method.id](ctx)

    def authenticated(self, header):
        """A token the emulator issued, or a JWT self-signed by a known service-account key (GAPIC
        clients use those instead of the token endpoint)."""
        if not header.lower().startswith("bearer "):
            return False
        token = header[7:]
        if token in self.tokens:
            return time.time() < self.token_expiry.get(token, float("inf"))
        if token.count(".") != 2:
            return False
        try:
            claims = jwt.decode(token, verify=False)
            key = self.keys.get(claims.get("iss"))
            return key is not None and bool(jwt.decode(token, certs=key, verify=True, audience=claims.get("aud")))
        except ValueError:
            return False

    def log(self, entry):
        with self.lock:
            self.requests.append(entry)


class Context:
    """One request, as the handlers see it."""

    def __init__(self, emu, method, api, params, query, body):
        self.emu, self.method, self.api, self.params, self.query, self.body = emu, method, api, params, query, body

    def param(self, *names):
        for name in names:
            if name in self.params:
                return urllib.parse.unquote(self.params[name])
            if name in self.query:
                return self.query[name]
        return None

    def project(self):
        ref = self.param("project", "projectsId", "v1Id1", "v1beta1Id1", "projectId")
        if ref is None and self.method.api == "storage":
            bucket = self.emu.get("storage:b/" + (self.param("bucket") or ""))
            ref = bucket["projectNumber"] if bucket else None
        return self.emu.project(ref) if ref else None
