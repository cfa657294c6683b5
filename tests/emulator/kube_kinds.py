"""The kinds an emulated cluster serves (built-in, GKE's CRDs, the Gateway classes), the API's error shape, and
how an object of each kind is validated: built-in kinds with kubernetes-validate, custom objects against their
CRD's schema.
"""

import datetime
import functools
import re


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


def _check_crd(crd):
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    if crd["metadata"]["name"] != "%s.%s" % (names.get("plural"), spec.get("group")):
        raise KubeError(422, 'CustomResourceDefinition "%s" is invalid: metadata.name: must be spec.names.plural+"."'
                             '+spec.group' % crd["metadata"]["name"])
    if not spec.get("versions"):
        raise KubeError(422, "spec.versions: Required value")


def _kubernetes_validate():
    """kubernetes_validate, reading each schema file once: it parses its schema and the whole _definitions.json
    (megabytes) on every call, which made validation most of the emulator's CPU on a re-run."""
    import kubernetes_validate  # pylint: disable=import-outside-toplevel
    from kubernetes_validate import utils  # pylint: disable=import-outside-toplevel
    if not hasattr(utils.schema_contents, "cache_info"):
        utils.schema_contents = functools.lru_cache(maxsize=None)(utils.schema_contents)
    return kubernetes_validate


def _validate_builtin(obj):
    kubernetes_validate = _kubernetes_validate()
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
