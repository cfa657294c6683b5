"""Google's discovery documents as the emulator's route table and request validator.

The documents ship with google-api-python-client (``googleapiclient/discovery_cache/documents``).
Every method of the APIs below becomes a route; every request body is validated against the
method's request schema converted to JSON Schema (unknown fields, wrong types and bad enum values
are rejected the way Google rejects them: HTTP 400).
"""

import json
import os
import re
from dataclasses import dataclass, field

import jsonschema

# api name -> (discovery document, service name used by Service Usage, the client library's proto
# types when it sends enums as their proto numbers - `enum-encoding=int` - else None)
APIS = {
    "compute": ("compute.v1.json", "compute.googleapis.com", None),
    "storage": ("storage.v1.json", "storage.googleapis.com", None),
    "cloudresourcemanager": ("cloudresourcemanager.v3.json", "cloudresourcemanager.googleapis.com",
                             "google.cloud.resourcemanager_v3.types"),
    "serviceusage": ("serviceusage.v1.json", "serviceusage.googleapis.com", "google.cloud.service_usage_v1.types"),
    "container": ("container.v1.json", "container.googleapis.com", "google.cloud.container_v1.types"),
    "gkehub": ("gkehub.v1.json", "gkehub.googleapis.com", "google.cloud.gkehub_v1.types"),
    # only what v1 lacks: generating a service agent (and polling that operation the v1beta1 way)
    "serviceusage_v1beta1": ("serviceusage.v1beta1.json", "serviceusage.googleapis.com", None),
    # IAM v1: only a project's service accounts (the node service account of the clusters role)
    "iam": ("iam.v1.json", "iam.googleapis.com", None),
    # Cloud Quotas v1: the accelerator quotas Compute Engine's regional quotas do not carry (TPU v6e, H100).
    # google-api-python-client ships no document for it: documents/cloudquotas.v1.json is a subset written
    # from Google's generated client (its source is in the file).
    "cloudquotas": ("cloudquotas.v1.json", "cloudquotas.googleapis.com", None),
}
ONLY = {"serviceusage_v1beta1": ("serviceusage.services.generateServiceIdentity", "serviceusage.operations.get"),
        "iam": ("iam.projects.serviceAccounts.create", "iam.projects.serviceAccounts.get",
                "iam.projects.serviceAccounts.patch", "iam.projects.serviceAccounts.delete")}


def proto_enums(types_module):
    """Every proto enum of a client library's types: a list of {name: number}."""
    import importlib  # pylint: disable=import-outside-toplevel
    import inspect  # pylint: disable=import-outside-toplevel

    import proto  # pylint: disable=import-outside-toplevel

    found, seen = [], set()

    def visit(obj):
        for _name, member in inspect.getmembers(obj, inspect.isclass):
            if member in seen:
                continue
            seen.add(member)
            if issubclass(member, proto.Enum):
                found.append({m.name: m.value for m in member})
            elif issubclass(member, proto.Message):
                visit(member)
    visit(importlib.import_module(types_module))
    return found


def documents_dir():
    import googleapiclient  # pylint: disable=import-outside-toplevel

    return os.path.join(os.path.dirname(googleapiclient.__file__), "discovery_cache", "documents")


@dataclass
class Method:
    api: str
    id: str
    http_method: str
    template: str
    regex: re.Pattern
    request: str = None
    literal_len: int = 0
    params: dict = field(default_factory=dict)

    @property
    def verb(self):
        return self.id.rsplit(".", 1)[1]


def _template_regex(template):
    pattern, literal = "", 0
    for part in re.split(r"(\{\+?[A-Za-z0-9_]+\})", template):
        if part.startswith("{+"):
            pattern += "(?P<%s>.+)" % part[2:-1]
        elif part.startswith("{"):
            pattern += "(?P<%s>[^/:]+)" % part[1:-1]
        else:
            pattern += re.escape(part)
            literal += len(part)
    return re.compile("^" + pattern + "$"), literal


class Api:
    def __init__(self, name):
        doc_file, self.service_name, types_module = APIS[name]
        self.int_enums = proto_enums(types_module) if types_module else None
        local = os.path.join(os.path.dirname(os.path.abspath(__file__)), "documents", doc_file)
        with open(local if os.path.exists(local) else os.path.join(documents_dir(), doc_file), encoding="utf-8") as handle:
            self.doc = json.load(handle)
        self.name = name
        self.methods = []
        self._collect(self.doc.get("resources", {}))
        self._schema_defs = None

    def _collect(self, resources):
        prefix = "/" + self.doc.get("servicePath", "")
        for resource in resources.values():
            for method in resource.get("methods", {}).values():
                if self.name in ONLY and method["id"] not in ONLY[self.name]:
                    continue
                template = prefix + method.get("flatPath", method["path"])
                regex, literal = _template_regex(template)
                self.methods.append(Method(
                    api=self.name, id=method["id"], http_method=method["httpMethod"], template=template,
                    regex=regex, request=(method.get("request") or {}).get("$ref"), literal_len=literal,
                    params=method.get("parameters", {}),
                ))
            self._collect(resource.get("resources", {}))

    # -- JSON Schema ---------------------------------------------------------------------------
    def _convert(self, schema):
        if "$ref" in schema:
            return {"$ref": "#/$defs/" + schema["$ref"]}
        kind = schema.get("type")
        if kind == "object":
            out = {"type": "object"}
            if "properties" in schema:
                out["properties"] = {k: self._convert(v) for k, v in schema["properties"].items()}
            extra = schema.get("additionalProperties")
            out["additionalProperties"] = self._convert(extra) if extra else False
            return out
        if kind == "array":
            return {"type": "array", "items": self._convert(schema.get("items", {}))}
        if kind == "string":
            if "enum" in schema:
                names = {"enum": schema["enum"]}
                if self.int_enums is not None:
                    return {"anyOf": [names, {"enum": sorted(self.numbers(schema["enum"]))}]}
                return names
            if schema.get("format") in ("int64", "uint64"):
                return {"anyOf": [{"type": "string", "pattern": "^-?[0-9]+$"}, {"type": "integer"}]}
            return {"type": "string"}
        if kind == "integer":
            return {"type": "integer"}
        if kind == "number":
            return {"type": ["number", "string"]}
        if kind == "boolean":
            return {"type": "boolean"}
        return {}

    def numbers(self, names):
        """{proto number: name} of the enum whose names are ``names`` (the client sends numbers)."""
        wanted = set(names)
        for enum in self.int_enums or ():
            if wanted <= set(enum) or set(enum) <= wanted and len(enum) > 1:
                return {number: name for name, number in enum.items() if name in wanted}
        return dict(enumerate(names))

    def schema_defs(self):
        if self._schema_defs is None:
            self._schema_defs = {name: self._convert(s) for name, s in self.doc.get("schemas", {}).items()}
        return self._schema_defs

    def validate(self, schema_name, body):
        """Return None when valid, else a Google-style error message."""
        validator = jsonschema.Draft202012Validator({"$ref": "#/$defs/" + schema_name, "$defs": self.schema_defs()})
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        if error is None:
            return None
        where = ".".join(str(p) for p in error.absolute_path) or schema_name
        if error.validator == "additionalProperties":
            unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            return 'Invalid JSON payload received. Unknown name "%s" at \'%s\': Cannot find field.' % (
                ", ".join(unknown), where)
        return "Invalid value at '%s': %s" % (where, error.message)

    def enum_names(self, schema_name, body):
        """Enum values sent as numbers (``enum-encoding=int``) converted back to their names."""
        return self._names(self.doc["schemas"].get(schema_name, {}), body)

    def _names(self, schema, value):
        if "$ref" in schema:
            return self._names(self.doc["schemas"][schema["$ref"]], value)
        if isinstance(value, dict):
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties", {})
            return {k: self._names(props.get(k, extra), v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._names(schema.get("items", {}), v) for v in value]
        if "enum" in schema and isinstance(value, int) and not isinstance(value, bool):
            return self.numbers(schema["enum"]).get(value, value)
        return value


class Registry:
    """All APIs, and the method matching a request."""

    def __init__(self, names=None):
        self.apis = {name: Api(name) for name in (names or APIS)}
        self.by_id = {}
        for api in self.apis.values():  # an id of two versions (operations.get) stands for the first
            for method in api.methods:
                self.by_id.setdefault(method.id, method)

    def match(self, http_method, path):
        """Methods matching a request, most specific first, with their path parameters."""
        found = []
        for api in self.apis.values():
            for method in api.methods:
                if method.http_method != http_method:
                    continue
                hit = method.regex.match(path)
                if hit:
                    found.append((method, hit.groupdict()))
        found.sort(key=lambda item: -item[0].literal_len)
        if found:
            best = found[0][0].literal_len
            found = [item for item in found if item[0].literal_len == best]
        return found
