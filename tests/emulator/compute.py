"""Compute Engine v1: networks, subnetworks, addresses, firewalls, routers (Cloud NAT) and their operations.

One generic insert/get/list/patch/delete serves every collection; what differs per collection
(defaults, references to check, server-assigned fields) is in ``PREPARE``.
"""

import ipaddress
import re

from .core import ApiError, Context, handler, not_found, now_rfc3339

BASE = "https://www.googleapis.com/compute/v1/"
NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
KEY = "compute:"


def link(path):
    return BASE + path


def ref_path(value, project):
    """A compute reference (full URL, partial URL or bare name) as 'projects/P/...'."""
    if value.startswith(BASE):
        return value[len(BASE):]
    if value.startswith("https://compute.googleapis.com/compute/v1/"):
        return value.split("/compute/v1/", 1)[1]
    if value.startswith("projects/"):
        return value
    if value.startswith(("global/", "regions/", "zones/")):
        return "projects/%s/%s" % (project, value)
    return None


def collection_path(ctx):
    """'projects/P/global/networks' or 'projects/P/regions/R/subnetworks' from the request path."""
    project = ctx.param("project")
    resource = ctx.method.id.split(".")[1]
    region = ctx.param("region")
    return "projects/%s/%s%s" % (project, "regions/%s/" % region if region else "global/", resource)


def bad(message, reason="invalid"):
    return ApiError(400, message, reason=reason)


def _resolve(ctx, value, kind):
    path = ref_path(value or "", ctx.param("project"))
    if path is None or ("/%s/" % kind) not in path or ctx.emu.get(KEY + path) is None:
        raise bad("Invalid value for field '%s': '%s'. The referenced %s resource cannot be found."
                  % (kind[:-1], value, kind[:-1]), reason="invalid")
    return path


def _prepare_network(ctx, body):
    if body.get("autoCreateSubnetworks", True) and "IPv4Range" not in body:
        pass  # auto mode network: allowed by Google, not used by the collection
    mtu = body.setdefault("mtu", 1460)
    if not 1300 <= mtu <= 8896:
        raise bad("Invalid value for field 'resource.mtu': '%s'. MTU must be between 1300 and 8896." % mtu)
    body.setdefault("routingConfig", {"routingMode": "REGIONAL"})
    body.setdefault("autoCreateSubnetworks", False)


def _prepare_subnetwork(ctx, body):
    network = _resolve(ctx, body.get("network"), "networks")
    body["network"] = link(network)
    try:
        cidr = ipaddress.ip_network(body.get("ipCidrRange", ""))
    except ValueError:
        raise bad("Invalid value for field 'resource.ipCidrRange': '%s'. Invalid IPv4 CIDR range."
                  % body.get("ipCidrRange")) from None
    purpose = body.setdefault("purpose", "PRIVATE")
    if purpose in ("GLOBAL_MANAGED_PROXY", "REGIONAL_MANAGED_PROXY") and "role" not in body:
        raise bad("Invalid value for field 'resource.role': ''. A role is required for a proxy-only subnetwork.")
    region = ctx.param("region")
    for _key, other in ctx.emu.items(KEY + "projects/%s/regions/" % ctx.param("project")):
        if other.get("kind") != "compute#subnetwork" or other["network"] != body["network"]:
            continue
        if ipaddress.ip_network(other["ipCidrRange"]).overlaps(cidr):
            raise bad("Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'."
                      % (cidr, other["name"], other["region"].rsplit("/", 1)[1]))
        same_region = other["region"].endswith("/" + region)
        if same_region and purpose == "GLOBAL_MANAGED_PROXY" and other.get("purpose") == "REGIONAL_MANAGED_PROXY":
            raise bad("A REGIONAL_MANAGED_PROXY subnetwork already exists in region %s; a GLOBAL_MANAGED_PROXY "
                      "subnetwork cannot be created in the same region." % region)
        if (same_region and purpose == other.get("purpose") == "GLOBAL_MANAGED_PROXY"
                and body.get("role") == other.get("role") == "ACTIVE"):
            raise bad("An ACTIVE GLOBAL_MANAGED_PROXY subnetwork already exists in region %s." % region)
    body["gatewayAddress"] = str(next(cidr.hosts()))
    body["privateIpGoogleAccess"] = body.get("privateIpGoogleAccess", False)
    body["stackType"] = body.get("stackType", "IPV4_ONLY")


def _prepare_address(ctx, body):
    body.setdefault("addressType", "EXTERNAL")
    body["status"] = "RESERVED"
    if body["addressType"] != "INTERNAL":
        body.setdefault("address", "203.0.113.%d" % (len(ctx.emu.items(KEY)) % 250 + 2))
        return
    subnet_path = _resolve(ctx, body.get("subnetwork"), "subnetworks")
    subnet = ctx.emu.get(KEY + subnet_path)
    body["subnetwork"] = link(subnet_path)
    body.setdefault("purpose", "GCE_ENDPOINT")
    cidr = ipaddress.ip_network(subnet["ipCidrRange"])
    used = {a.get("address") for _key, a in ctx.emu.items(KEY) if a.get("subnetwork") == body["subnetwork"]}
    hosts = list(cidr.hosts())[1:-1]  # Google reserves the gateway and the second-to-last address
    if "address" in body:
        if ipaddress.ip_address(body["address"]) not in hosts or body["address"] in used:
            raise bad("Requested internal IP address %s is not available in subnetwork %s."
                      % (body["address"], subnet["name"]), reason="ipAddressNotAvailable")
    else:
        free = [str(h) for h in hosts if str(h) not in used]
        if not free:
            raise bad("No available IP addresses in subnetwork %s." % subnet["name"], reason="ipSpaceExhausted")
        body["address"] = free[0]


def _prepare_firewall(ctx, body):
    body["network"] = link(_resolve(ctx, body.get("network", "global/networks/default"), "networks"))
    body.setdefault("direction", "INGRESS")
    body.setdefault("priority", 1000)
    body.setdefault("disabled", False)
    body.setdefault("logConfig", {"enable": False})
    if not body.get("allowed") and not body.get("denied"):
        raise bad("Invalid value for field 'resource': a firewall rule must have 'allowed' or 'denied'.")
    for cidr in body.get("sourceRanges", []) + body.get("destinationRanges", []):
        try:
            ipaddress.ip_network(cidr)
        except ValueError:
            raise bad("Invalid value for field 'resource.sourceRanges': '%s'. Invalid IPv4 CIDR." % cidr) from None


def _prepare_router(ctx, body):
    body["network"] = link(_resolve(ctx, body.get("network", ""), "networks"))
    names = [nat.get("name", "") for nat in body.get("nats") or []]
    for index, nat in enumerate(body.get("nats") or []):
        if not NAME_RE.match(nat.get("name", "")) or names.count(nat.get("name")) > 1:
            raise bad("Invalid value for field 'resource.nats[%d].name': '%s'. Must be a unique name matching "
                      "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'" % (index, nat.get("name", "")))
        if nat.get("natIpAllocateOption") == "MANUAL_ONLY" and not nat.get("natIps"):
            raise bad("Invalid value for field 'resource.nats[%d].natIps': MANUAL_ONLY needs NAT IP addresses." % index)


PREPARE = {
    "networks": ("compute#network", _prepare_network),
    "subnetworks": ("compute#subnetwork", _prepare_subnetwork),
    "addresses": ("compute#address", _prepare_address),
    "firewalls": ("compute#firewall", _prepare_firewall),
    "routers": ("compute#router", _prepare_router),
}


def operation_json(op):
    body = {
        "kind": "compute#operation", "id": op.info["id"], "name": op.name,
        "operationType": op.info["type"], "targetLink": link(op.info["target"]),
        "status": "DONE" if op.done else "RUNNING", "progress": 100 if op.done else 0,
        "insertTime": op.info["time"], "startTime": op.info["time"], "user": "emulator@example.com",
        "selfLink": link(op.info["self"]),
    }
    if op.info.get("region"):
        body["region"] = link("projects/%s/regions/%s" % (op.info["project"], op.info["region"]))
    if op.done:
        body["endTime"] = now_rfc3339()
    if op.done and op.error:
        body["error"] = {"errors": [{"code": op.error.get("code", "UNKNOWN"), "message": op.error["message"]}]}
        body["httpErrorStatusCode"] = op.error.get("http_status", 400)
        body["httpErrorMessage"] = "BAD REQUEST" if body["httpErrorStatusCode"] == 400 else "ERROR"
    return body


def start(ctx, kind, target, on_done, on_error=None):
    if ctx.emu.busy(target):
        raise ApiError(400, "The resource '%s' is not ready" % target, reason="resourceNotReady")
    project, region = ctx.param("project"), ctx.param("region")
    scope = "regions/%s" % region if region else "global"
    info = {"target": target, "type": kind, "time": now_rfc3339(), "project": project, "region": region,
            "id": ctx.emu.next_id(), "on_error": on_error}
    op = ctx.emu.start_operation("compute", ctx.method.id, on_done, info)
    op.info["self"] = "projects/%s/%s/operations/%s" % (project, scope, op.name)
    return 200, operation_json(op)


@handler("compute.networks.insert", "compute.subnetworks.insert", "compute.addresses.insert",
         "compute.firewalls.insert", "compute.routers.insert")
def insert(ctx):
    body = dict(ctx.body)
    name = body.get("name", "")
    if not NAME_RE.match(name):
        raise bad("Invalid value for field 'resource.name': '%s'. Must be a match of regex "
                  "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'" % name)
    path = "%s/%s" % (collection_path(ctx), name)
    if ctx.emu.get(KEY + path) is not None or path in ctx.emu.reserved:
        raise ApiError(409, "The resource '%s' already exists" % path, reason="alreadyExists")
    _complete(ctx, ctx.method.id.split(".")[1], path, body)
    if ctx.param("region"):
        body["region"] = link("projects/%s/regions/%s" % (ctx.param("project"), ctx.param("region")))
    ctx.emu.reserved.add(path)

    def done():
        ctx.emu.reserved.discard(path)
        ctx.emu.store[KEY + path] = body
        return body

    return start(ctx, "insert", path, done, on_error=lambda: ctx.emu.reserved.discard(path))


def _complete(ctx, collection, path, body):
    """Check a new resource of ``collection`` and add what the server assigns."""
    kind, prepare = PREPARE[collection]
    prepare(ctx, body)
    body.update({"kind": kind, "id": ctx.emu.next_id(), "creationTimestamp": now_rfc3339(), "selfLink": link(path)})
    if collection != "routers":  # a Router has no fingerprint (compute v1 discovery document)
        body["fingerprint"] = ctx.emu.etag()


def controller_firewall(emu, project, body):
    """A firewall rule a Google controller (GKE's multi-cluster ones) creates on its own: checked and completed
    as ``compute.firewalls.insert`` checks and completes a user's, and stored at once (the controller's
    operation is not the project's). Nothing happens when the rule exists or its network does not."""
    path = "projects/%s/global/firewalls/%s" % (project, body["name"])
    if emu.get(KEY + path) is not None:
        return
    try:
        _complete(Context(emu, None, "compute", {"project": project}, {}, None), "firewalls", path, body)
    except ApiError:
        return  # the network is gone: the controller has nothing to open
    emu.store[KEY + path] = body


def _existing(ctx):
    name = ctx.params.get({"networks": "network", "subnetworks": "subnetwork", "addresses": "address",
                           "firewalls": "firewall", "routers": "router"}[ctx.method.id.split(".")[1]])
    path = "%s/%s" % (collection_path(ctx), name)
    resource = ctx.emu.get(KEY + path)
    if resource is None:
        raise not_found(path)
    return path, resource


@handler("compute.networks.get", "compute.subnetworks.get", "compute.addresses.get", "compute.firewalls.get",
         "compute.routers.get")
def get(ctx):
    return 200, _existing(ctx)[1]


@handler("compute.networks.list", "compute.subnetworks.list", "compute.addresses.list", "compute.firewalls.list",
         "compute.routers.list")
def list_(ctx):
    prefix = KEY + collection_path(ctx) + "/"
    items = [v for k, v in ctx.emu.items(prefix) if "/" not in k[len(prefix):]]
    resource = ctx.method.id.split(".")[1]
    return 200, {"kind": "compute#%sList" % resource[:-1], "id": collection_path(ctx), "items": items,
                 "selfLink": link(collection_path(ctx))}


# fields each collection accepts in a patch (everything else must be unchanged)
PATCHABLE = {
    "networks": {"routingConfig"},
    "subnetworks": {"secondaryIpRanges", "role", "logConfig", "enableFlowLogs", "privateIpGoogleAccess"},
    "firewalls": {"allowed", "denied", "description", "sourceRanges", "destinationRanges", "sourceTags",
                  "targetTags", "sourceServiceAccounts", "targetServiceAccounts", "priority", "disabled",
                  "logConfig"},
    # routers.patch is a JSON merge patch of the router (discovery document): a list such as nats is replaced
    "routers": {"nats", "description", "bgp", "bgpPeers", "interfaces"},
}


@handler("compute.networks.patch", "compute.subnetworks.patch", "compute.firewalls.patch", "compute.routers.patch")
def patch(ctx):
    path, resource = _existing(ctx)
    collection = ctx.method.id.split(".")[1]
    if collection == "subnetworks" and ctx.body.get("fingerprint") != resource["fingerprint"]:
        raise ApiError(412, "Invalid fingerprint.", reason="conditionNotMet")
    for key, value in ctx.body.items():
        if key in ("fingerprint", "name", "kind", "selfLink", "id", "creationTimestamp"):
            continue
        if key not in PATCHABLE[collection] and value != resource.get(key):
            raise bad("Invalid value for field 'resource.%s': the field cannot be changed with a patch." % key)
    if collection == "routers" and "nats" in ctx.body:
        _prepare_router(ctx, dict(resource, nats=ctx.body["nats"]))

    def done():
        resource.update({k: v for k, v in ctx.body.items() if k in PATCHABLE[collection]})
        if "fingerprint" in resource:
            resource["fingerprint"] = ctx.emu.etag()
        return resource

    return start(ctx, "patch", path, done)


@handler("compute.subnetworks.expandIpCidrRange")
def expand(ctx):
    path, resource = _existing(ctx)
    old, new = ipaddress.ip_network(resource["ipCidrRange"]), ipaddress.ip_network(ctx.body.get("ipCidrRange", ""))
    if not (new.prefixlen < old.prefixlen and old.subnet_of(new)):
        raise bad("Invalid IPCidrRange: %s. The new range must contain the existing range %s and be larger."
                  % (new, old))

    def done():
        resource["ipCidrRange"] = str(new)
        resource["fingerprint"] = ctx.emu.etag()
        return resource

    return start(ctx, "expandIpCidrRange", path, done)


@handler("compute.subnetworks.setPrivateIpGoogleAccess")
def set_pga(ctx):
    path, resource = _existing(ctx)

    def done():
        resource["privateIpGoogleAccess"] = bool(ctx.body.get("privateIpGoogleAccess"))
        return resource

    return start(ctx, "setPrivateIpGoogleAccess", path, done)


def _gateway_using(emu, path, resource):
    """The load balancer of an emulated multi-cluster Gateway that uses a regional address it names, or the
    proxy-only subnet of a region it has an address in (Compute Engine refuses to delete either while a forwarding
    rule or the region's Envoy proxies use it); None when nothing does. The forwarding rules themselves are not
    emulated: the Gateway stands for them."""
    parts = path.split("/")  # projects/P/regions/R/addresses|subnetworks/N
    if len(parts) != 6 or parts[2] != "regions" or parts[4] not in ("addresses", "subnetworks"):
        return None
    if parts[4] == "subnetworks" and resource.get("purpose") != "GLOBAL_MANAGED_PROXY":
        return None
    for kube in list(getattr(emu, "kube", {}).values()):
        if kube.project != parts[1]:
            continue
        for gateway in kube.list("gateway.networking.k8s.io", "gateways"):
            spec = gateway.get("spec") or {}
            if not spec.get("gatewayClassName", "").endswith("-mc"):
                continue
            for address in spec.get("addresses") or []:
                value = address.get("value", "")
                if value == "/".join(parts[2:]) or (parts[4] == "subnetworks" and value.startswith(
                        "regions/%s/" % parts[3])):
                    rule = "gkegw-" + gateway["metadata"]["name"]
                    return "projects/%s/regions/%s/forwardingRules/%s" % (parts[1], parts[3], rule)
    return None


@handler("compute.networks.delete", "compute.subnetworks.delete", "compute.addresses.delete",
         "compute.firewalls.delete", "compute.routers.delete")
def delete(ctx):
    path, resource = _existing(ctx)
    target = resource["selfLink"]
    users = [v["selfLink"] for _key, v in ctx.emu.items(KEY)
             if target in (v.get("network"), v.get("subnetwork")) and v is not resource]
    if users:
        raise bad("The %s resource '%s' is already being used by '%s'"
                  % (ctx.method.id.split(".")[1][:-1], path, users[0].replace(BASE, "")),
                  reason="resourceInUseByAnotherResource")
    if resource.get("status") == "IN_USE":
        raise bad("The address resource '%s' is already being used by '%s'" % (path, resource.get("users")),
                  reason="resourceInUseByAnotherResource")
    gateway = _gateway_using(ctx.emu, path, resource)
    if gateway:
        raise bad("The %s resource '%s' is already being used by '%s'"
                  % (ctx.method.id.split(".")[1][:-1], path, gateway), reason="resourceInUseByAnotherResource")

    def done():
        ctx.emu.store.pop(KEY + path, None)

    return start(ctx, "delete", path, done)


# Regional quotas a new project has. Every metric is a value of compute v1's Quota.metric enum (the
# discovery document): it has no TPU v6e value and, for H100, only PREEMPTIBLE_ and COMMITTED_NVIDIA_H100_GPUS.
DEFAULT_QUOTAS = {"CPUS": 600, "PREEMPTIBLE_NVIDIA_H100_GPUS": 16, "COMMITTED_NVIDIA_H100_GPUS": 0,
                  "SUBNETWORKS": 175, "INTERNAL_ADDRESSES": 200, "IN_USE_ADDRESSES": 69}
REGIONS = {"us-east5": "abc", "europe-west4": "abc", "us-central1": "abcf", "asia-southeast1": "abc",
           "us-east1": "bcd", "us-west1": "abc", "europe-west1": "bcd", "asia-northeast1": "abc",
           "us-south1": "abc", "europe-west2": "abc"}


@handler("compute.regions.get")
def region_get(ctx):
    """A region with its zones and quotas (limits overridable with ``/_emulator/config`` ``quotas``)."""
    name, project = ctx.param("region"), ctx.param("project")
    if name not in REGIONS:
        raise bad("Invalid value for field 'region': '%s'. Unknown region." % name)
    overrides = ctx.emu.quotas.get(name, {})
    known = ctx.emu.registry.apis["compute"].doc["schemas"]["Quota"]["properties"]["metric"]["enum"]
    unknown = sorted(m for m in list(DEFAULT_QUOTAS) + list(overrides) if m not in known)
    if unknown:  # a test (or this emulator) naming a metric Compute Engine never reports
        raise ApiError(500, "emulator: %s not a value of compute v1 Quota.metric" % ", ".join(unknown))
    quotas = [{"metric": metric, "limit": float(overrides.get(metric, limit)), "usage": 0.0}
              for metric, limit in sorted(DEFAULT_QUOTAS.items())]
    return 200, {"kind": "compute#region", "id": ctx.emu.next_id(), "name": name, "status": "UP",
                 "selfLink": link("projects/%s/regions/%s" % (project, name)),
                 "zones": [link("projects/%s/zones/%s-%s" % (project, name, z)) for z in REGIONS[name]],
                 "quotas": quotas}


@handler("compute.globalOperations.get", "compute.regionOperations.get")
def get_operation(ctx):
    op = ctx.emu.operations.get(ctx.param("operation"))
    if op is None or op.api != "compute":
        raise not_found("projects/%s/.../operations/%s" % (ctx.param("project"), ctx.param("operation")))
    return 200, operation_json(op)
