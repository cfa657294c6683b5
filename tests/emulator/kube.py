"""An emulated Kubernetes API server per emulated GKE cluster (HTTPS, its own CA, bearer tokens the
emulator issued).

What it does: discovery (/version, /api, /apis, APIResourceLists), create / get / list (label and
field selectors) / replace / patch (JSON patch, merge patch, a strategic merge that merges the usual
keyed lists, server-side apply as such a merge that creates missing objects) / delete (with owner
garbage collection), ``status`` subresources, ``dryRun=All``, pod logs, CRDs that register their
kinds (custom objects are checked against the CRD's openAPIV3Schema), and the built-in kinds checked
with kubernetes-validate (type errors are refused; unknown fields are a warning, as the API server
does by default). The simulated controllers live in :mod:`emulator.kube_controllers`.

What it does not: watch, managedFields, shared field ownership and conflict detection on apply (a
server-side apply does remove the fields its manager applied before and leaves out now), admission
webhooks, RBAC (any token the emulator issued is cluster-admin), ReplicaSets (Deployments own their
Pods directly), pruning of unknown fields in custom objects.
"""

import base64
import copy
import datetime
import hashlib
import itertools
import json
import re
import ssl
import tempfile
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .core import QuietHTTPServer

VERSION = {"major": "1", "minor": "34", "gitVersion": "v1.34.1-gke.1829001", "platform": "linux/amd64"}
NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
ALL_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


class KubeError(Exception):
    """A Kubernetes ``Status`` failure."""

    REASONS = {400: "BadRequest", 404: "NotFound", 405: "MethodNotAllowed", 409: "AlreadyExists",
               415: "UnsupportedMediaType", 422: "Invalid", 401: "Unauthorized", 403: "Forbidden"}

    def __init__(self, code, message, reason=None):
        super().__init__(message)
        self.code, self.message = code, message
        self.reason = reason or self.REASONS.get(code, "InternalError")

    def body(self):
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "code": self.code}


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kind:
    """One served resource: group, versions, plural, kind, scope, subresources, schema."""

    def __init__(self, group, versions, plural, kind, namespaced=True, status=False, short=(), schema=None,
                 builtin=True, extra_sub=()):
        self.group, self.versions, self.plural, self.kind = group, list(versions), plural, kind
        self.namespaced, self.status, self.short, self.schema = namespaced, status, list(short), schema
        self.builtin = builtin
        self.subresources = (["status"] if status else []) + list(extra_sub)

    def api_version(self, version=None):
        version = version or self.versions[0]
        return "%s/%s" % (self.group, version) if self.group else version

    def resource_json(self):
        out = [{"name": self.plural, "singularName": self.kind.lower(), "namespaced": self.namespaced,
                "kind": self.kind, "verbs": ALL_VERBS, "shortNames": self.short}]
        for sub in self.subresources:
            out.append({"name": "%s/%s" % (self.plural, sub), "singularName": "", "namespaced": self.namespaced,
                        "kind": "Scale" if sub == "scale" else self.kind, "verbs": ["get", "patch", "update"]})
        return out


def _k(group, version, plural, kind, namespaced=True, status=False, short=(), extra=()):
    versions = version if isinstance(version, list) else [version]
    return Kind(group, versions, plural, kind, namespaced, status, short, extra_sub=extra)


BUILTIN = [
    _k("", "v1", "namespaces", "Namespace", False, True, ["ns"]),
    _k("", "v1", "nodes", "Node", False, True, ["no"]),
    _k("", "v1", "pods", "Pod", True, True, ["po"], ["log"]),
    _k("", "v1", "services", "Service", True, True, ["svc"]),
    _k("", "v1", "endpoints", "Endpoints", True, False, ["ep"]),
    _k("", "v1", "serviceaccounts", "ServiceAccount", True, False, ["sa"]),
    _k("", "v1", "secrets", "Secret"),
    _k("", "v1", "configmaps", "ConfigMap", short=["cm"]),
    _k("", "v1", "events", "Event", short=["ev"]),
    _k("apps", "v1", "deployments", "Deployment", True, True, ["deploy"], ["scale"]),
    _k("batch", "v1", "jobs", "Job", True, True),
    _k("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, True, ["hpa"]),
    _k("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, True, ["pdb"]),
    _k("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    _k("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    _k("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _k("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _k("coordination.k8s.io", "v1", "leases", "Lease"),
    _k("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, True, ["crd"]),
    _k("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, True),
    _k("resource.k8s.io", "v1", "deviceclasses", "DeviceClass", False),
    _k("resource.k8s.io", "v1", "resourceclaims", "ResourceClaim", True, True),
    _k("resource.k8s.io", "v1", "resourceclaimtemplates", "ResourceClaimTemplate"),
]

# Kinds GKE installs and manages itself (CRDs present on every emulated cluster). Their schemas are
# not loaded: GKE's copies differ from the public ones (GCPBackendPolicy above all), and the test
# suite validates what the collection renders against the public schemas instead.
GKE_CRDS = [
    ("gateway.networking.k8s.io", ["v1", "v1beta1"], "gateways", "Gateway", True, ["gtw"]),
    ("gateway.networking.k8s.io", ["v1", "v1beta1"], "httproutes", "HTTPRoute", True, []),
    ("gateway.networking.k8s.io", ["v1", "v1beta1"], "gatewayclasses", "GatewayClass", False, ["gc"]),
    ("inference.networking.k8s.io", ["v1"], "inferencepools", "InferencePool", True, ["infpool"]),
    ("networking.gke.io", ["v1"], "gcpinferencepoolimports", "GCPInferencePoolImport", True, []),
    ("networking.gke.io", ["v1"], "healthcheckpolicies", "HealthCheckPolicy", True, []),
    ("networking.gke.io", ["v1"], "gcpbackendpolicies", "GCPBackendPolicy", True, []),
    ("networking.gke.io", ["v1"], "gcpgatewaypolicies", "GCPGatewayPolicy", True, []),
    ("autoscaling.gke.io", ["v1beta1"], "autoscalingmetrics", "AutoscalingMetric", True, []),
    ("monitoring.googleapis.com", ["v1"], "podmonitorings", "PodMonitoring", True, []),
    ("monitoring.googleapis.com", ["v1"], "clusterpodmonitorings", "ClusterPodMonitoring", False, []),
    ("net.gke.io", ["v1"], "serviceexports", "ServiceExport", True, []),
    ("net.gke.io", ["v1"], "serviceimports", "ServiceImport", True, []),
]
GATEWAY_CLASSES = ["gke-l7-global-external-managed", "gke-l7-regional-external-managed", "gke-l7-rilb",
                   "gke-l7-gxlb", "gke-l7-cross-regional-internal-managed-mc", "gke-l7-global-external-managed-mc",
                   "gke-l7-rilb-mc"]
# Merge keys the emulated strategic merge patch uses for lists of objects.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
              "volumeMounts": "mountPath", "ports": None, "imagePullSecrets": "name", "resourceClaims": "name",
              "claims": "name", "tolerations": None, "conditions": "type"}


def make_ca_and_cert():
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM bytes: ca, cert, key)."""
    def name(common):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(days=30)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("emulated-cluster-ca")).issuer_name(name("emulated-cluster-ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress  # pylint: disable=import-outside-toplevel
    cert = (x509.CertificateBuilder().subject_name(name("kube-apiserver")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    return (ca.public_bytes(pem), cert.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


# -- patches ----------------------------------------------------------------------------------
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def release_fields(obj, previous, current):
    """``obj`` without the fields a manager applied in ``previous`` and no longer applies in ``current``
    (lists are atomic, as in a merge patch)."""
    if not isinstance(obj, dict) or not isinstance(previous, dict):
        return obj
    out = copy.deepcopy(obj)
    current = current if isinstance(current, dict) else {}
    for key, value in previous.items():
        if key in ("apiVersion", "kind") or key not in out:
            continue
        if key not in current:
            out.pop(key)
        elif isinstance(value, dict):
            out[key] = release_fields(out[key], value, current[key])
    return out


def strategic_merge(target, patch, field=None):
    """Merge patch, except that lists of objects under a known key merge element by element."""
    if isinstance(patch, list) and isinstance(target, list) and field in MERGE_KEYS and all(
            isinstance(x, dict) for x in patch + target):
        key = MERGE_KEYS[field] or ("containerPort" if patch and "containerPort" in patch[0] else
                                    "port" if patch and "port" in patch[0] else None)
        if key is None:
            return copy.deepcopy(patch)
        out = [copy.deepcopy(x) for x in target]
        for item in patch:
            match = next((i for i, x in enumerate(out) if x.get(key) == item.get(key)), None)
            if match is None:
                out.append(copy.deepcopy(item))
            else:
                out[match] = strategic_merge(out[match], item)
        return out
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = strategic_merge(out.get(key), value, key)
    return out


def json_patch(target, ops):
    out = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = out
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        leaf = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            current = parent[int(leaf)] if isinstance(parent, list) else parent.get(leaf)
            if current != op.get("value"):
                raise KubeError(422, "the server rejected our request due to an error in our request: test failed")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if leaf == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(leaf), op["value"])
                else:
                    parent[int(leaf)] = op["value"]
            else:
                parent[leaf] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(leaf)]
            elif leaf in parent:
                del parent[leaf]
            else:
                raise KubeError(422, "the server rejected our request: path %s does not exist" % op["path"])
        else:
            raise KubeError(400, "json patch op %s is not supported by the emulator" % kind)
    return out


# -- selectors --------------------------------------------------------------------------------
def _label_requirements(selector):
    reqs = []
    for part in re.split(r",(?![^(]*\))", selector or ""):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", part)
        if m:
            reqs.append((m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}))
        elif "!=" in part:
            key, value = part.split("!=", 1)
            reqs.append((key.strip(), "!=", value.strip()))
        elif "==" in part or "=" in part:
            key, value = re.split("==?", part, 1)
            reqs.append((key.strip(), "=", value.strip()))
        elif part.startswith("!"):
            reqs.append((part[1:], "!exists", None))
        else:
            reqs.append((part, "exists", None))
    return reqs


def label_match(labels, selector):
    labels = labels or {}
    for key, op, value in _label_requirements(selector):
        have = labels.get(key)
        checks = {"=": lambda: have == value, "!=": lambda: have != value, "in": lambda: have in value,
                  "notin": lambda: have not in value, "exists": lambda: key in labels,
                  "!exists": lambda: key not in labels}
        if not checks[op]():
            return False
    return True


def field_match(obj, selector):
    for part in (selector or "").split(","):
        if not part.strip():
            continue
        negate = "!=" in part
        key, value = re.split("!=|==?", part, 1)
        have = obj
        for step in key.strip().split("."):
            have = have.get(step) if isinstance(have, dict) else None
        if (str(have if have is not None else "") == value.strip()) == negate:
            return False
    return True


# -- the API server of one cluster -------------------------------------------------------------
class KubeCluster:
    """The Kubernetes API of one emulated cluster: objects, kinds, and an HTTPS server."""

    def __init__(self, emu, cluster_key, cluster):
        self.emu, self.cluster_key = emu, cluster_key
        self.project, self.location, self.name = re.match(
            r"container:projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$", cluster_key).groups()
        self.region = self.location if self.location.count("-") == 1 else self.location.rsplit("-", 1)[0]
        self.cluster = cluster
        self.kinds = {}  # (group, plural) -> Kind
        self.objects = {}  # (group, plural, namespace, name) -> object
        self.logs = {}  # (namespace, pod) -> [lines]
        self.rv = itertools.count(1)
        self.api_writes = 0  # writes made by API requests (a no-op patch is not one)
        self.created = time.time()
        self.state = {}  # controller bookkeeping
        for kind in BUILTIN:
            self.kinds[(kind.group, kind.plural)] = kind
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "gke-managed-system", "gmp-system"):
            namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}
            self._store(self.kinds[("", "namespaces")], namespace)
        for group, versions, plural, kind, namespaced, short in GKE_CRDS:
            self._store(self.kinds[("apiextensions.k8s.io", "customresourcedefinitions")],
                        self.crd_object(group, versions, plural, kind, namespaced, short))
            self.register_crd(self.objects[("apiextensions.k8s.io", "customresourcedefinitions", "",
                                            "%s.%s" % (plural, group))])
        for gc in GATEWAY_CLASSES:
            self._store(self.kinds[("gateway.networking.k8s.io", "gatewayclasses")], {
                "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": gc},
                "spec": {"controllerName": "networking.gke.io/gateway"},
                "status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}]}})
        self._store(self.kinds[("resource.k8s.io", "deviceclasses")], {
            "apiVersion": "resource.k8s.io/v1", "kind": "DeviceClass", "metadata": {"name": "netdev.google.com"},
            "spec": {"selectors": [{"cel": {"expression": "device.driver == 'netdev.google.com'"}}]}})
        ca, cert, key = make_ca_and_cert()
        self.ca_pem = ca
        self.server = self._serve(cert, key)
        self.port = self.server.server_address[1]

    # -- server ----------------------------------------------------------------------------------
    def _serve(self, cert, key):
        handler_class = type("KubeHandler", (KubeHandler,), {"kube": self})
        server = QuietHTTPServer(("127.0.0.1", 0), handler_class)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with tempfile.NamedTemporaryFile("wb", suffix=".pem") as cert_file, \
                tempfile.NamedTemporaryFile("wb", suffix=".pem") as key_file:
            cert_file.write(cert)
            cert_file.flush()
            key_file.write(key)
            key_file.flush()
            context.load_cert_chain(cert_file.name, key_file.name)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},  # a quick stop() on reset
                         name="kube-" + self.name, daemon=True).start()
        return server

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    @property
    def ca_b64(self):
        return base64.b64encode(self.ca_pem).decode()

    # -- kinds -----------------------------------------------------------------------------------
    @staticmethod
    def crd_object(group, versions, plural, kind, namespaced, short):
        return {
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "%s.%s" % (plural, group), "labels": {"addonmanager.kubernetes.io/mode": "Reconcile"}},
            "spec": {"group": group, "scope": "Namespaced" if namespaced else "Cluster",
                     "names": {"plural": plural, "kind": kind, "singular": kind.lower(), "shortNames": short,
                               "listKind": kind + "List"},
                     "versions": [{"name": v, "served": True, "storage": i == 0, "subresources": {"status": {}},
                                   "schema": {"openAPIV3Schema": {"type": "object",
                                                                  "x-kubernetes-preserve-unknown-fields": True}}}
                                  for i, v in enumerate(versions)]},
            "status": {"conditions": [{"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]},
        }

    def register_crd(self, crd):
        spec = crd.get("spec", {})
        served = [v for v in spec.get("versions", []) if v.get("served", True)]
        storage = [v for v in served if v.get("storage")] + [v for v in served if not v.get("storage")]
        schema = (storage[0].get("schema") or {}).get("openAPIV3Schema") if storage else None
        if schema and schema.get("x-kubernetes-preserve-unknown-fields") and len(schema) <= 2:
            schema = None
        names = spec.get("names", {})
        kind = Kind(spec["group"], [v["name"] for v in storage], names["plural"], names["kind"],
                    spec.get("scope") == "Namespaced", any("status" in (v.get("subresources") or {}) for v in served),
                    names.get("shortNames") or [], schema, builtin=False)
        self.kinds[(kind.group, kind.plural)] = kind
        crd.setdefault("status", {})["conditions"] = [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted"}]
        crd["status"]["acceptedNames"] = dict(names)

    def find_kind(self, group, version, plural):
        kind = self.kinds.get((group, plural))
        if kind is None or version not in kind.versions:
            raise KubeError(404, "the server could not find the requested resource")
        return kind

    # -- objects ---------------------------------------------------------------------------------
    def _store(self, kind, obj):
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now())
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = str(next(self.rv))
        if kind.namespaced:
            meta.setdefault("namespace", "default")
        self.objects[(kind.group, kind.plural, meta.get("namespace", "") if kind.namespaced else "", meta["name"])] = obj
        return obj

    def get(self, group, plural, namespace, name):
        return self.objects.get((group, plural, namespace or "", name))

    def list(self, group, plural, namespace=None):
        return [o for (g, p, ns, _n), o in sorted(self.objects.items(), key=lambda kv: kv[0])
                if g == group and p == plural and (namespace is None or ns == namespace)]

    def put(self, group, plural, obj):
        """Create or replace an object on behalf of a controller (no validation, no admission)."""
        kind = self.kinds[(group, plural)]
        obj.setdefault("apiVersion", kind.api_version())
        obj.setdefault("kind", kind.kind)
        return self._store(kind, obj)

    def set_status(self, obj, status):
        """Write an object's status if it differs (resourceVersion moves only on a real change)."""
        if obj.get("status") != status:
            obj["status"] = status
            obj["metadata"]["resourceVersion"] = str(next(self.rv))
            return True
        return False

    def remove(self, group, plural, namespace, name):
        obj = self.objects.pop((group, plural, namespace or "", name), None)
        if obj is not None:
            self._collect_garbage({obj["metadata"]["uid"]})
            if (group, plural) == ("", "namespaces"):
                for key in [k for k in self.objects if k[2] == name]:
                    self.objects.pop(key)
        return obj

    def _collect_garbage(self, uids):
        while uids:
            orphans = [k for k, o in self.objects.items() if any(
                ref.get("uid") in uids for ref in o["metadata"].get("ownerReferences", []))]
            uids = set()
            for key in orphans:
                uids.add(self.objects.pop(key)["metadata"]["uid"])

    def event(self, obj, reason, message, type_="Normal"):
        meta = obj["metadata"]
        name = "%s.%x" % (meta["name"], time.time_ns())
        self.put("", "events", {"metadata": {"name": name, "namespace": meta.get("namespace", "default")},
                                "involvedObject": {"kind": obj.get("kind"), "name": meta["name"],
                                                   "namespace": meta.get("namespace"), "uid": meta["uid"]},
                                "reason": reason, "message": message, "type": type_, "count": 1,
                                "firstTimestamp": now(), "lastTimestamp": now()})

    # -- validation ------------------------------------------------------------------------------
    def validate(self, kind, obj):
        """Refuse what the API server refuses; return warnings for what it only warns about."""
        meta = obj.get("metadata") or {}
        name = meta.get("name", "")
        if kind.group == "rbac.authorization.k8s.io":  # RBAC names are path segments (colons allowed)
            valid = bool(name) and name not in (".", "..") and "/" not in name and "%" not in name
        else:
            valid = bool(NAME_RE.match(name or ""))
        if not valid:
            raise KubeError(422, '%s "%s" is invalid: metadata.name: Invalid value: "%s": a lowercase RFC 1123 '
                                 'subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\''
                            % (kind.kind, name, name))
        for field in ("labels", "annotations"):
            for key, value in (meta.get(field) or {}).items():
                if not isinstance(value, str):
                    raise KubeError(400, "metadata.%s.%s: must be a string, got %r" % (field, key, value))
        if kind.builtin:
            return _validate_builtin(obj)
        if kind.schema:
            return _validate_custom(kind, obj)
        return []

    # -- requests --------------------------------------------------------------------------------
    def handle(self, method, path, query, body, content_type):
        from . import kube_controllers  # pylint: disable=import-outside-toplevel
        with self.emu.lock:
            self.emu.tick()
            kube_controllers.reconcile(self.emu)
            before = self.api_writes
            status, payload, warnings = self._route(method, path, query, body, content_type)
            if method != "GET":
                kube_controllers.reconcile(self.emu)
            return status, payload, warnings, self.api_writes != before

    def _route(self, method, path, query, body, content_type):
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/") if p]
        if path == "/version":
            return 200, VERSION, []
        if path in ("/healthz", "/readyz", "/livez"):
            return 200, b"ok", []
        if parts == ["api"]:
            return 200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:%d" % self.port}]}, []
        if parts == ["apis"]:
            return 200, self._group_list(), []
        if parts[:1] == ["api"] and len(parts) >= 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        elif parts[:1] == ["apis"] and len(parts) == 2:
            groups = [g for g in self._group_list()["groups"] if g["name"] == parts[1]]
            if not groups:
                raise KubeError(404, "the server could not find the requested resource")
            return 200, dict(groups[0], kind="APIGroup", apiVersion="v1"), []
        else:
            raise KubeError(404, "the server could not find the requested resource")
        if not rest:
            return 200, self._resource_list(group, version), []
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3 and (group, rest[2]) in self.kinds and \
                self.kinds[(group, rest[2])].namespaced:
            namespace, rest = rest[1], rest[2:]
        kind = self.find_kind(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else None
        if sub and sub not in kind.subresources:
            raise KubeError(404, "the server could not find the requested resource")
        if kind.namespaced and name is not None and namespace is None:
            raise KubeError(404, "the server could not find the requested resource")
        if namespace and self.get("", "namespaces", "", namespace) is None and method in ("POST", "PUT", "PATCH"):
            raise KubeError(404, 'namespaces "%s" not found' % namespace)
        dry_run = query.get("dryRun") == "All"
        if method == "GET" and query.get("watch") in ("true", "1"):
            raise KubeError(405, "watch is not emulated")
        if method == "GET" and name is None:
            return 200, self._list(kind, version, namespace, query), []
        if method == "GET" and sub == "log":
            self._require(kind, namespace, name)
            lines = self.logs.get((namespace, name), [])
            if query.get("tailLines"):
                lines = lines[-int(query["tailLines"]):]
            return 200, ("".join(line + "\n" for line in lines)).encode(), []
        if method == "GET":
            return 200, self._out(kind, version, self._require(kind, namespace, name), sub), []
        if method == "POST" and name is None:
            return self._create(kind, version, namespace, body, dry_run)
        if method == "PUT" and name:
            return self._update(kind, version, namespace, name, sub, lambda old: body, dry_run)
        if method == "PATCH" and name:
            return self._patch(kind, version, namespace, name, sub, body, content_type, query, dry_run)
        if method == "DELETE" and name:
            grace = (body or {}).get("gracePeriodSeconds", query.get("gracePeriodSeconds"))
            return self._delete(kind, version, namespace, name, dry_run,
                                None if grace is None else int(grace))
        if method == "DELETE":
            selector = query.get("labelSelector")
            for obj in self._list(kind, version, namespace, {"labelSelector": selector})["items"]:
                self._delete(kind, version, obj["metadata"].get("namespace"), obj["metadata"]["name"], dry_run)
            return 200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}}, []
        raise KubeError(405, "the server does not allow this method on the requested resource")

    def _group_list(self):
        groups = {}
        for kind in self.kinds.values():
            if kind.group:
                entry = groups.setdefault(kind.group, [])
                for version in kind.versions:
                    if version not in entry:
                        entry.append(version)
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v} for v in vs],
             "preferredVersion": {"groupVersion": "%s/%s" % (g, vs[0]), "version": vs[0]}}
            for g, vs in sorted(groups.items())]}

    def _resource_list(self, group, version):
        kinds = [k for k in self.kinds.values() if k.group == group and version in k.versions]
        if not kinds:
            raise KubeError(404, "the server could not find the requested resource")
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": kinds[0].api_version(version),
                "resources": [r for k in kinds for r in k.resource_json()]}

    def _require(self, kind, namespace, name):
        obj = self.get(kind.group, kind.plural, namespace if kind.namespaced else "", name)
        if obj is None:
            raise KubeError(404, '%s "%s" not found' % (
                "%s.%s" % (kind.plural, kind.group) if kind.group else kind.plural, name))
        return obj

    @staticmethod
    def _out(kind, version, obj, sub=None):
        out = copy.deepcopy(obj)
        out["apiVersion"], out["kind"] = kind.api_version(version), kind.kind
        if sub == "scale":
            return {"apiVersion": "autoscaling/v1", "kind": "Scale", "metadata": out["metadata"],
                    "spec": {"replicas": obj["spec"].get("replicas", 1)},
                    "status": {"replicas": obj.get("status", {}).get("replicas", 0)}}
        return out

    def _list(self, kind, version, namespace, query):
        items = [self._out(kind, version, o) for o in self.list(kind.group, kind.plural, namespace)
                 if label_match(o["metadata"].get("labels"), query.get("labelSelector"))
                 and field_match(o, query.get("fieldSelector"))]
        return {"kind": kind.kind + "List", "apiVersion": kind.api_version(version),
                "metadata": {"resourceVersion": str(next(self.rv))}, "items": items}

    def _check_identity(self, kind, version, namespace, body, name=None):
        if not isinstance(body, dict):
            raise KubeError(400, "the body of the request is not a Kubernetes object")
        if body.get("kind") not in (None, kind.kind) or body.get("apiVersion") not in (None, kind.api_version(version)):
            raise KubeError(400, "the API version in the data (%s) does not match the expected API version (%s)"
                            % (body.get("apiVersion"), kind.api_version(version)))
        meta = body.setdefault("metadata", {})
        if kind.namespaced:
            if meta.get("namespace") not in (None, namespace):
                raise KubeError(400, "the namespace of the provided object does not match the namespace sent on "
                                     "the request")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if name is not None and meta.get("name") not in (None, name):
            raise KubeError(400, "the name of the object (%s) does not match the name on the URL (%s)"
                            % (meta.get("name"), name))
        if name is not None:
            meta["name"] = name
        body["apiVersion"], body["kind"] = kind.api_version(version), kind.kind

    def _create(self, kind, version, namespace, body, dry_run):
        body = copy.deepcopy(body)
        self._check_identity(kind, version, namespace, body)
        meta = body["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:5]
        if self.get(kind.group, kind.plural, namespace if kind.namespaced else "", meta.get("name", "")) is not None:
            raise KubeError(409, '%s "%s" already exists' % (
                "%s.%s" % (kind.plural, kind.group) if kind.group else kind.plural, meta.get("name")))
        for field in ("uid", "resourceVersion", "creationTimestamp", "generation"):
            meta.pop(field, None)
        if kind.status and kind.plural not in ("namespaces",):
            body.pop("status", None)
        warnings = self.validate(kind, body)
        self._admit(kind, body, None)
        if kind.plural == "customresourcedefinitions":
            _check_crd(body)
        if dry_run:
            out = copy.deepcopy(body)
            out["metadata"].update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
            return 201, out, warnings
        obj = self._store(kind, body)
        self.api_writes += 1
        if kind.plural == "customresourcedefinitions":
            self.register_crd(obj)
        return 201, self._out(kind, version, obj), warnings

    def _update(self, kind, version, namespace, name, sub, change, dry_run, create_missing=False):
        ns = namespace if kind.namespaced else ""
        existing = self.get(kind.group, kind.plural, ns, name)
        if existing is None:
            if create_missing:
                return self._create(kind, version, namespace, dict(change({}), metadata=dict(
                    change({}).get("metadata") or {}, name=name)), dry_run)
            self._require(kind, namespace, name)
        new = copy.deepcopy(change(copy.deepcopy(self._out(kind, version, existing))))
        self._check_identity(kind, version, namespace, new, name)
        rv = (new.get("metadata") or {}).get("resourceVersion")
        if rv and rv != existing["metadata"]["resourceVersion"]:
            raise KubeError(409, "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please "
                                 "apply your changes to the latest version and try again" % (kind.plural, name),
                            reason="Conflict")
        meta = new["metadata"]
        for field in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            meta[field] = existing["metadata"][field]
        if sub == "status":
            new = dict(copy.deepcopy(existing), status=new.get("status"))
        elif kind.status and kind.plural != "namespaces":
            new["status"] = copy.deepcopy(existing.get("status"))
            if new["status"] is None:
                new.pop("status")
        warnings = self.validate(kind, new)
        self._admit(kind, new, existing)
        spec_changed = {k: v for k, v in new.items() if k not in ("metadata", "status")} != \
            {k: v for k, v in existing.items() if k not in ("metadata", "status")}
        if spec_changed and sub != "status":
            meta["generation"] = existing["metadata"]["generation"] + 1
        if new == existing:
            return 200, self._out(kind, version, existing), warnings
        if dry_run:
            return 200, self._out(kind, version, new), warnings
        meta["resourceVersion"] = str(next(self.rv))
        self.objects[(kind.group, kind.plural, ns, name)] = new
        self.api_writes += 1
        if kind.plural == "customresourcedefinitions":
            self.register_crd(new)
        return 200, self._out(kind, version, new), warnings

    def _patch(self, kind, version, namespace, name, sub, body, content_type, query, dry_run):
        content_type = (content_type or "").split(";")[0].strip()
        if content_type == "application/strategic-merge-patch+json" and not kind.builtin:
            raise KubeError(415, "the body of the request was in an unknown format - accepted media types "
                                 "include: application/json-patch+json, application/merge-patch+json, "
                                 "application/apply-patch+yaml")
        patchers = {
            "application/json-patch+json": json_patch,
            "application/merge-patch+json": merge_patch,
            "application/strategic-merge-patch+json": strategic_merge,
            "application/apply-patch+yaml": strategic_merge if kind.builtin else merge_patch,
        }
        if content_type not in patchers:
            raise KubeError(415, "the body of the request was in an unknown format: %s" % content_type)
        if content_type == "application/apply-patch+yaml" and not query.get("fieldManager"):
            raise KubeError(422, "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is "
                                 "required for apply patch")
        patcher = patchers[content_type]
        applied_key = previous = None
        if content_type == "application/apply-patch+yaml":
            # Server-side apply owns fields: what this manager applied before and leaves out now is removed
            # (https://kubernetes.io/docs/reference/using-api/server-side-apply/#field-management). The
            # emulator keeps each manager's last applied configuration; it does not track shared ownership.
            applied_key = ("applied", kind.group, kind.plural, namespace if kind.namespaced else "", name,
                           str(query.get("fieldManager")))
            previous = self.state.get(applied_key)

        def change(old):
            if previous is not None and old:
                old = release_fields(old, previous, body)
            patched = patcher(old, body)
            if isinstance(patched, dict) and sub == "scale":
                return dict(old, spec=dict(old["spec"], replicas=patched["spec"]["replicas"]))
            return patched
        if sub == "scale":
            return self._update(kind, version, namespace, name, None, change, dry_run)
        answer = self._update(kind, version, namespace, name, sub, change, dry_run,
                              create_missing=content_type == "application/apply-patch+yaml")
        if applied_key and not dry_run:
            self.state[applied_key] = copy.deepcopy(body)
        return answer

    def _delete(self, kind, version, namespace, name, dry_run, grace=None):
        obj = self._require(kind, namespace, name)
        if kind.plural == "namespaces" and name in ("default", "kube-system"):
            raise KubeError(403, 'namespaces "%s" is forbidden: this namespace may not be deleted' % name,
                            reason="Forbidden")
        if kind.plural == "customresourcedefinitions" and obj["metadata"].get("labels", {}).get(
                "addonmanager.kubernetes.io/mode") == "Reconcile":
            raise KubeError(403, "customresourcedefinitions %s is managed by GKE and may not be deleted" % name,
                            reason="Forbidden")
        if dry_run:
            return 200, self._out(kind, version, obj), []
        from . import kube_controllers  # pylint: disable=import-outside-toplevel
        self.api_writes += 1
        if not kube_controllers.on_delete(self, kind, obj, grace):
            self.remove(kind.group, kind.plural, namespace if kind.namespaced else "", name)
        if kind.plural == "customresourcedefinitions":
            spec = obj["spec"]
            self.kinds.pop((spec["group"], spec["names"]["plural"]), None)
            for key in [k for k in self.objects if k[:2] == (spec["group"], spec["names"]["plural"])]:
                self.objects.pop(key)
        return 200, self._out(kind, version, obj), []

    def _admit(self, kind, obj, old):
        """The few admission rules the collection depends on."""
        if kind.plural == "deviceclasses" and old is None:
            return
        if kind.plural == "resourceclaimtemplates":
            for request in obj["spec"].get("spec", {}).get("devices", {}).get("requests", []):
                exactly = request.get("exactly") or {}
                device_class = exactly.get("deviceClassName")
                if device_class and self.get("resource.k8s.io", "deviceclasses", "", device_class) is None:
                    raise KubeError(422, 'ResourceClaimTemplate "%s" is invalid: deviceClassName: DeviceClass "%s" '
                                         'does not exist' % (obj["metadata"]["name"], exactly["deviceClassName"]))


def _check_crd(crd):
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if crd["metadata"]["name"] != "%s.%s" % (names.get("plural"), spec.get("group")):
        raise KubeError(422, 'CustomResourceDefinition "%s" is invalid: metadata.name: must be spec.names.plural+"."'
                             '+spec.group' % crd["metadata"]["name"])
    if not spec.get("versions"):
        raise KubeError(422, "spec.versions: Required value")


def _validate_builtin(obj):
    import kubernetes_validate  # pylint: disable=import-outside-toplevel
    try:
        kubernetes_validate.validate(obj, "1.34", strict=False)
    except kubernetes_validate.ValidationError as exc:
        raise KubeError(422, '%s "%s" is invalid: %s: %s' % (
            obj.get("kind"), obj["metadata"].get("name"), ".".join(str(p) for p in exc.path), exc.message))
    except kubernetes_validate.SchemaNotFoundError:
        return []
    try:
        kubernetes_validate.validate(obj, "1.34", strict=True)
    except kubernetes_validate.ValidationError as exc:
        return ['unknown field "%s": %s' % (".".join(str(p) for p in exc.path), exc.message)]
    return []


def _validate_custom(kind, obj):
    import jsonschema  # pylint: disable=import-outside-toplevel
    schema = dict(kind.schema)
    props = dict(schema.get("properties") or {})
    props.pop("metadata", None)
    schema["properties"] = props
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(obj), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        raise KubeError(422, '%s.%s "%s" is invalid: %s: %s' % (
            kind.plural, kind.group, obj["metadata"].get("name"), ".".join(str(p) for p in first.path) or "<root>",
            first.message))
    return []


class KubeHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    kube = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _reply(self, status, payload, warnings=()):
        if isinstance(payload, bytes):
            data, content_type = payload, "text/plain"
        else:
            data, content_type = json.dumps(payload).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for warning in warnings:
            self.send_header("Warning", '299 - "%s"' % warning.replace('"', "'"))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        kube = self.kube
        auth = self.headers.get("Authorization", "")
        if not kube.emu.authenticated(auth):
            return self._reply(401, KubeError(401, "Unauthorized").body())
        try:
            body = None
            if raw:
                content_type = self.headers.get("Content-Type", "")
                body = yaml.safe_load(raw) if "yaml" in content_type else json.loads(raw)
            status, payload, warnings, changed = kube.handle(self.command, parsed.path, query, body,
                                                             self.headers.get("Content-Type"))
        except KubeError as exc:
            status, payload, warnings, changed = exc.code, exc.body(), [], False
        except (ValueError, yaml.YAMLError) as exc:
            status, payload, warnings, changed = 400, KubeError(
                400, "could not decode the request body: %s" % exc).body(), [], False
        except Exception as exc:  # pylint: disable=broad-except  # an emulator bug: answer it, do not hang up
            status, payload, warnings, changed = 500, KubeError(
                500, "emulator error: %r" % exc, "InternalError").body(), [], False
        kube.emu.log({"time": time.time(), "method": self.command, "path": parsed.path, "query": query,
                      "body": "<secret>" if "/secrets" in parsed.path else body,
                      "status": status, "method_id": "kubernetes:%s" % kube.name, "changed": changed})
        return self._reply(status, payload, warnings)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
