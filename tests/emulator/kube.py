"""An emulated Kubernetes API server per emulated GKE cluster (HTTPS, its own CA, bearer tokens the
emulator issued).

What it does: discovery (/version, /api, /apis, APIResourceLists), create / get / list (label and
field selectors) / replace / patch (JSON patch, merge patch, a strategic merge that merges the usual
keyed lists) / delete (with owner
garbage collection), ``status`` subresources, ``dryRun=All``, pod logs, CRDs that register their
kinds (custom objects are checked against the CRD's openAPIV3Schema), and the built-in kinds checked
with kubernetes-validate (type errors are refused; unknown fields are a warning, as the API server
does by default). The simulated controllers (:mod:`emulator.kube_controllers` and the modules it names) register with :mod:`emulator.core`.

What it does not: watch, managedFields, server-side apply (refused as an unknown patch type: the
collection applies client-side, as kubernetes.core.k8s does with ``apply: true``), admission
webhooks, RBAC (any token the emulator issued is cluster-admin), ReplicaSets (Deployments own their
Pods directly), pruning of unknown fields in custom objects.
"""

import base64
import itertools
import re
import ssl
import tempfile
import threading
import time
import uuid


from .server import QuietHTTPServer
from .core import part as register_part
from .kube_api import KubeApi
from .kube_kinds import BUILTIN, GATEWAY_CLASSES, GKE_CRDS, Kind, KubeError, NAME_RE, _validate_builtin, _validate_custom, now
from .kube_server import KubeHandler, make_ca_and_cert


# -- the API server of one cluster -------------------------------------------------------------
@register_part("objects")
class ObjectStore(dict):
    """A cluster's objects by (group, plural, namespace, name), with the sorted keys of each kind at hand: the
    controllers list every kind of every cluster 20 times a second, and a scan of all the objects for each list was
    most of the emulator's own CPU. The index is made again after a key is added or removed."""

    def __init__(self, *args, **kwargs):
        dict.__init__(self, *args, **kwargs)
        self.by_kind = None

    def keys_of(self, group, plural):
        if self.by_kind is None:
            by_kind = {}
            for key in sorted(self):
                by_kind.setdefault(key[:2], []).append(key)
            self.by_kind = by_kind
        return self.by_kind.get((group, plural), ())

    def __setitem__(self, key, value):
        if key not in self:
            self.by_kind = None
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        dict.__delitem__(self, key)
        self.by_kind = None

    def pop(self, key, *default):
        if key in self:
            self.by_kind = None
        return dict.pop(self, key, *default)

    def clear(self):
        dict.clear(self)
        self.by_kind = None

    def update(self, *args, **kwargs):
        dict.update(self, *args, **kwargs)
        self.by_kind = None

    def setdefault(self, key, default=None):
        if key not in self:
            self.by_kind = None
        return dict.setdefault(self, key, default)

    def popitem(self):
        self.by_kind = None
        return dict.popitem(self)


@register_part("cluster")
class KubeCluster(KubeApi):
    """The Kubernetes API of one emulated cluster: objects, kinds, and an HTTPS server."""

    def __init__(self, emu, cluster_key, cluster):
        self.emu, self.cluster_key = emu, cluster_key
        self.project, self.location, self.name = re.match(
            r"container:projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$", cluster_key).groups()
        self.region = self.location if self.location.count("-") == 1 else self.location.rsplit("-", 1)[0]
        self.cluster = cluster
        self.kinds = {}  # (group, plural) -> Kind
        self.objects = ObjectStore()  # (group, plural, namespace, name) -> object
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
        objects = self.objects
        return [objects[k] for k in objects.keys_of(group, plural) if namespace is None or k[2] == namespace]

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
