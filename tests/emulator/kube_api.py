"""The requests an emulated cluster's API server answers: discovery, get/list/watch-free reads, create, update,
the three patch types (not server-side apply), delete (with graceful termination through the controllers),
dry runs, and admission checks. Mixed into KubeCluster (kube.py), which keeps the objects."""

import copy
import hashlib
import time
import urllib.parse
import uuid

from .kube_kinds import KubeError, VERSION, _check_crd, now
from .kube_patch import field_match, json_patch, label_match, merge_patch, strategic_merge


class KubeApi:
    """The request side of KubeCluster: it uses the cluster's objects, kinds and emulator (self.emu)."""

    # -- requests --------------------------------------------------------------------------------
    def handle(self, method, path, query, body, content_type):
        with self.emu.lock:
            self.emu.tick()
            self.emu.reconcile(self)
            before = self.api_writes
            status, payload, warnings = self._route(method, path, query, body, content_type)
            if method != "GET":
                self.emu.reconcile(self)
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

    def _update(self, kind, version, namespace, name, sub, change, dry_run):
        ns = namespace if kind.namespaced else ""
        existing = self.get(kind.group, kind.plural, ns, name)
        if existing is None:
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
        # Server-side apply (application/apply-patch+yaml) is not modeled: the collection applies client-side,
        # as kubernetes.core.k8s does with apply: true. It is refused as unknown, so a module that starts
        # using it is noticed here rather than on GKE.
        patchers = {
            "application/json-patch+json": json_patch,
            "application/merge-patch+json": merge_patch,
            "application/strategic-merge-patch+json": strategic_merge,
        }
        if content_type not in patchers:
            raise KubeError(415, "the body of the request was in an unknown format: %s (the emulator does not "
                                 "model server-side apply)" % content_type)
        patcher = patchers[content_type]

        def change(old):
            patched = patcher(old, body)
            if isinstance(patched, dict) and sub == "scale":
                return dict(old, spec=dict(old["spec"], replicas=patched["spec"]["replicas"]))
            return patched
        if sub == "scale":
            return self._update(kind, version, namespace, name, None, change, dry_run)
        return self._update(kind, version, namespace, name, sub, change, dry_run)

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
        self.api_writes += 1
        if not self.emu.take_over_deletion(self, kind, obj, grace):
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
