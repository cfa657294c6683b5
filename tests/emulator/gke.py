"""GKE (container v1: clusters, node pools, operations) and GKE Hub (gkehub v1: memberships,
features, operations)."""

import hashlib
import json
import re

from .compute import ref_path
from .core import ApiError, handler, now_rfc3339
from .kube import KubeCluster
from .iam import service_account_exists
from .isolation import check as check_isolation, merge, new_pool, region_of


NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")


# What GKE accepts for the accelerator shapes the collection uses (machine type -> facts).
TPU_MACHINES = {"ct6e-standard-1t": "1x1", "ct6e-standard-4t": "2x2", "ct6e-standard-8t": "2x4",
                "ct5lp-hightpu-1t": "1x1", "ct5lp-hightpu-4t": "2x2", "ct5lp-hightpu-8t": "2x4"}


GPU_MACHINES = {"a3-highgpu-1g": ("nvidia-h100-80gb", 1), "a3-highgpu-2g": ("nvidia-h100-80gb", 2),
                "a3-highgpu-4g": ("nvidia-h100-80gb", 4), "a3-highgpu-8g": ("nvidia-h100-80gb", 8),
                "g2-standard-4": ("nvidia-l4", 1), "g2-standard-24": ("nvidia-l4", 2)}


# The machine types GKE-managed DRANET supports, from "Allocate network resources with DRA"
# (https://docs.cloud.google.com/kubernetes-engine/docs/how-to/allocate-network-resources-dra, Requirements):
# A3 Ultra, A4, A4X, A4X Max (RDMA); TPU7x and TPU v6e (NetDevice). a3-highgpu-* (H100) is not one of them.
# The error text is the emulator's own: Google's exact wording for this refusal was not found.
DRANET_MACHINES = ("a3-ultragpu-8g", "a4-highgpu-8g", "a4x-highgpu-4g", "a4x-maxgpu-4g-metal", "tpu7x-standard-4t",
                   "ct6e-standard-8t", "ct6e-standard-4t", "ct6e-standard-1t")


def _bad(message):
    return ApiError(400, message, status="INVALID_ARGUMENT")


def _cluster_key(project, location, name):
    return "container:projects/%s/locations/%s/clusters/%s" % (project, location, name)


def _cluster(ctx):
    key = _cluster_key(ctx.param("projectsId"), ctx.param("locationsId"), ctx.param("clustersId"))
    cluster = ctx.emu.get(key)
    if cluster is None:
        raise ApiError(404, "Not found: projects/%s/locations/%s/clusters/%s." % (
            ctx.param("projectsId"), ctx.param("locationsId"), ctx.param("clustersId")))
    return key, cluster


def _container_op(ctx, op_type, target, on_done, node_pool=None):
    """A container Operation; GKE refuses a second operation on a cluster that has one running."""
    cluster_target = target.split("/nodePools/")[0]
    for op in ctx.emu.operations.values():
        if not op.done and op.api == "container" and op.info["target"].split("/nodePools/")[0] == cluster_target:
            raise ApiError(400, "Cluster is running incompatible operation %s." % op.name, status="FAILED_PRECONDITION")
    info = {"target": target, "type": op_type, "location": ctx.param("locationsId"), "project": ctx.param("projectsId"),
            "time": now_rfc3339(), "node_pool": node_pool}
    op = ctx.emu.start_operation("container", ctx.method.id, on_done, info)
    return 200, container_op_json(op)


def container_op_json(op):
    body = {"name": op.name, "operationType": op.info["type"], "status": "DONE" if op.done else "RUNNING",
            "selfLink": "https://container.googleapis.com/v1/projects/%s/locations/%s/operations/%s" % (
                op.info["project"], op.info["location"], op.name),
            "targetLink": "https://container.googleapis.com/v1/" + op.info["target"],
            "location": op.info["location"], "zone": op.info["location"], "startTime": op.info["time"]}
    if op.done:
        body["endTime"] = now_rfc3339()
        if op.error:
            body["error"] = {"code": 9, "message": op.error["message"]}
            body["statusMessage"] = op.error["message"]
    return body


def _check_node_pool(pool, location, emu):
    config = pool.get("config", {})
    machine = config.get("machineType", "e2-medium")
    # nodes run as config.serviceAccount, "default" (the Compute Engine default account) when unset; GKE
    # refuses an account that does not exist
    config.setdefault("serviceAccount", "default")
    if config["serviceAccount"] != "default" and not service_account_exists(emu, config["serviceAccount"]):
        raise _bad("Service account \"%s\" does not exist." % config["serviceAccount"])
    network = pool.get("networkConfig", {})
    if "acceleratorNetworkProfile" in network and network["acceleratorNetworkProfile"] != "auto":
        raise _bad("networkConfig.acceleratorNetworkProfile: only 'auto' is supported.")
    if network.get("acceleratorNetworkProfile") and machine not in DRANET_MACHINES:
        raise _bad("networkConfig.acceleratorNetworkProfile is not supported for machine type %s: managed DRANET "
                   "requires one of %s." % (machine, ", ".join(DRANET_MACHINES)))
    if machine in TPU_MACHINES:
        topology = pool.get("placementPolicy", {}).get("tpuTopology")
        if topology and topology != TPU_MACHINES[machine]:
            raise _bad("TPU topology %s is not valid for machine type %s (single-host topology is %s)."
                       % (topology, machine, TPU_MACHINES[machine]))
    for accel in config.get("accelerators", []):
        want = GPU_MACHINES.get(machine)
        count = int(accel.get("acceleratorCount", 0))
        if want is None or accel.get("acceleratorType") != want[0] or count != want[1]:
            raise _bad("Accelerator type %s with count %s is not supported with machine type %s."
                       % (accel.get("acceleratorType"), count, machine))
    auto = pool.get("autoscaling", {})
    if auto.get("enabled") and int(auto.get("minNodeCount", 0)) > int(auto.get("maxNodeCount", 0)):
        raise _bad("autoscaling.minNodeCount must not exceed maxNodeCount.")
    pool.setdefault("initialNodeCount", 1)
    pool.setdefault("locations", [location] if location.count("-") == 2 else [])
    pool["status"] = "PROVISIONING"
    pool.setdefault("version", "1.34.1-gke.1829001")
    config.setdefault("diskSizeGb", 100)
    pool["config"] = config
    return pool


@handler("container.projects.locations.clusters.create")
def cluster_create(ctx):
    project, location = ctx.param("projectsId"), ctx.param("locationsId")
    cluster = dict(ctx.body.get("cluster") or {})
    name = cluster.get("name", "")
    if not NAME_RE.match(name):
        raise _bad("Invalid value for field \"cluster.name\": \"%s\"." % name)
    key = _cluster_key(project, location, name)
    if ctx.emu.get(key):
        raise ApiError(409, "Already exists: projects/%s/locations/%s/clusters/%s." % (project, location, name))
    for field, kind in (("network", "networks"), ("subnetwork", "subnetworks")):
        if field in cluster:
            path = ref_path(cluster[field], project) or ""
            if "/%s/" % kind not in path and "/" not in cluster[field]:
                path = ("projects/%s/global/networks/%s" % (project, cluster[field]) if kind == "networks" else
                        "projects/%s/regions/%s/subnetworks/%s" % (project, region_of(location), cluster[field]))
            if ctx.emu.get("compute:" + path) is None:
                raise _bad("%s \"%s\" does not exist." % (field.capitalize(), cluster[field]))
            cluster[field] = path.rsplit("/", 1)[1]
    pool_name = cluster.get("workloadIdentityConfig", {}).get("workloadPool")
    if pool_name and pool_name != "%s.svc.id.goog" % project:
        raise _bad("Workload pool must be %s.svc.id.goog." % project)
    pools = cluster.pop("nodePools", None) or [{
        "name": "default-pool", "initialNodeCount": cluster.pop("initialNodeCount", 3),
        "config": cluster.pop("nodeConfig", {})}]
    check_isolation(cluster)
    cluster["nodePools"] = [new_pool(cluster, _check_node_pool(dict(p), location, ctx.emu)) for p in pools]
    _check_labels(cluster.get("resourceLabels"))
    start = (((cluster.get("maintenancePolicy") or {}).get("window") or {}).get("dailyMaintenanceWindow") or {}).get(
        "startTime")
    if start is not None:
        if not START_TIME_RE.match(start):
            raise _bad("maintenancePolicy.window.dailyMaintenanceWindow.startTime: '%s' is not a time in HH:MM." % start)
        cluster["maintenancePolicy"]["window"]["dailyMaintenanceWindow"]["duration"] = "PT4H0M0S"
        cluster["maintenancePolicy"]["resourceVersion"] = _fingerprint(cluster["maintenancePolicy"]["window"])
    number = ctx.emu.project(project)["number"]
    cluster.update({
        "status": "PROVISIONING", "location": location, "zone": location, "createTime": now_rfc3339(),
        "selfLink": "https://container.googleapis.com/v1/projects/%s/locations/%s/clusters/%s" % (project, location, name),
        "masterAuth": {},
        "currentMasterVersion": "1.34.1-gke.1829001", "currentNodeVersion": "1.34.1-gke.1829001",
        "id": ctx.emu.next_id(), "labelFingerprint": _fingerprint(cluster.get("resourceLabels")),
    })
    cluster.setdefault("network", "default")
    cluster.setdefault("releaseChannel", {"channel": "REGULAR"})
    cluster.setdefault("ipAllocationPolicy", {"useIpAliases": True})
    cluster.setdefault("addonsConfig", {})
    cluster["addonsConfig"].setdefault("httpLoadBalancing", {})
    cluster["networkConfig"] = dict(cluster.get("networkConfig", {}), network="projects/%s/global/networks/%s" % (
        project, cluster["network"]))
    cluster["projectNumber"] = number
    ctx.emu.store[key] = cluster

    def done():
        cluster["status"] = "RUNNING"
        for pool in cluster["nodePools"]:
            pool["status"] = "RUNNING"
        if pool_name:  # the project's Workload Identity pool exists from now on (iam.check_policy)
            ctx.emu.project(project).setdefault("workload_pools", set()).add(pool_name)
        # The cluster's own Kubernetes API. Unlike GKE (an IP on port 443) the endpoint carries its
        # loopback port, so that every emulated cluster can have its own API server.
        kube = KubeCluster(ctx.emu, key, cluster)
        ctx.emu.dataplane.ensure_running()
        ctx.emu.kube[key] = kube
        cluster["endpoint"] = "127.0.0.1:%d" % kube.port
        cluster["masterAuth"] = {"clusterCaCertificate": kube.ca_b64}

    op = _container_op(ctx, "CREATE_CLUSTER", key.split(":", 1)[1], done)
    # A failed creation leaves the cluster in ERROR with the reason in conditions ("Which conditions caused the
    # current cluster state", Cluster in container v1's discovery document; statusMessage is deprecated for it).
    failed = ctx.emu.operations[op[1]["name"]]
    failed.info["on_error"] = lambda: cluster.update(status="ERROR", conditions=[
        dict({"message": failed.error.get("message", "")},
             **({"code": failed.error["code"]} if isinstance(failed.error.get("code"), str) else {}))])
    return op


@handler("container.projects.locations.clusters.get")
def cluster_get(ctx):
    return 200, _cluster(ctx)[1]


@handler("container.projects.locations.clusters.list")
def cluster_list(ctx):
    prefix = "container:projects/%s/locations/" % ctx.param("projectsId")
    location = ctx.param("locationsId")
    clusters = [c for k, c in ctx.emu.items(prefix) if "/nodePools/" not in k and (location == "-" or c["location"] == location)]
    return 200, {"clusters": clusters}


@handler("container.projects.locations.clusters.delete")
def cluster_delete(ctx):
    key, cluster = _cluster(ctx)
    members = [m["name"] for _key, m in ctx.emu.items("gkehub:") if m.get("endpoint", {}).get("gkeCluster", {}).get(
        "resourceLink", "").endswith(key.split(":", 1)[1])]
    if members:
        raise ApiError(400, "Cluster is registered to fleet membership %s; unregister it first." % members[0],
                       status="FAILED_PRECONDITION")
    cluster["status"] = "STOPPING"

    def done():
        ctx.emu.store.pop(key, None)
        kube = ctx.emu.kube.pop(key, None)
        if kube is not None:
            kube.stop()
    return _container_op(ctx, "DELETE_CLUSTER", key.split(":", 1)[1], done)


UPDATABLE = {  # ClusterUpdate field -> cluster field it sets (dotted when nested)
    "desiredGatewayApiConfig": "networkConfig.gatewayApiConfig", "desiredAddonsConfig": "addonsConfig",
    "desiredMonitoringConfig": "monitoringConfig", "desiredReleaseChannel": "releaseChannel",
    "desiredWorkloadIdentityConfig": "workloadIdentityConfig", "desiredPodAutoscaling": "podAutoscaling",
    "desiredLoggingConfig": "loggingConfig",
    "desiredDefaultEnablePrivateNodes": "networkConfig.defaultEnablePrivateNodes",
    "desiredControlPlaneEndpointsConfig": "controlPlaneEndpointsConfig",
}


@handler("container.projects.locations.clusters.update")
def cluster_update(ctx):
    key, cluster = _cluster(ctx)
    update = ctx.body.get("update", {})
    fields = [f for f in update if f.startswith("desired")]
    if len(fields) != 1:
        raise _bad("Exactly one update can be applied to a cluster with each request (got %s)." % ", ".join(fields))
    field = fields[0]
    if field not in UPDATABLE:
        raise ApiError(501, "Update %s is not emulated." % field)
    if field == "desiredControlPlaneEndpointsConfig":
        check_isolation({"controlPlaneEndpointsConfig": update[field],
                         "masterAuthorizedNetworksConfig": cluster.get("masterAuthorizedNetworksConfig")}, "update")

    def done():
        *parents, leaf = UPDATABLE[field].split(".")
        holder = cluster
        for parent in parents:
            holder = holder.setdefault(parent, {})
        current, value = holder.get(leaf), update[field]
        if field == "desiredControlPlaneEndpointsConfig":  # optional fields: what the update omits stays
            holder[leaf] = merge(current, value)
        else:
            holder[leaf] = dict(current, **value) if isinstance(current, dict) and isinstance(value, dict) else value
    return _container_op(ctx, "UPDATE_CLUSTER", key.split(":", 1)[1], done)


# GKE's labels: keys and values of at most 63 lower-case letters, digits, underscores and dashes, keys starting with
# a letter, at most 64 of them (Cluster.resourceLabels; "Creating and managing cluster labels"). setResourceLabels and
# setMaintenancePolicy carry the fingerprint / resourceVersion the caller read: a stale one is refused (concurrent
# change), as GKE does.
LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")


START_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _check_labels(labels):
    bad = [k for k, v in (labels or {}).items() if not LABEL_KEY_RE.match(k) or not LABEL_VALUE_RE.match(str(v))]
    if bad or len(labels or {}) > 64:
        raise _bad("Invalid resource labels %s: keys and values must be at most 63 lower-case letters, digits, "
                   "underscores and dashes, keys starting with a letter, at most 64 labels." % ", ".join(sorted(bad)))


def _fingerprint(value):
    return hashlib.sha256(json.dumps(value or {}, sort_keys=True).encode()).hexdigest()[:8]


@handler("container.projects.locations.clusters.setResourceLabels")
def cluster_set_labels(ctx):
    key, cluster = _cluster(ctx)
    labels = ctx.body.get("resourceLabels") or {}
    _check_labels(labels)
    if ctx.body.get("labelFingerprint") != cluster.get("labelFingerprint"):
        raise ApiError(409, "Labels could not be set due to fingerprint mismatch: the labels changed since they were "
                            "read.", status="ABORTED")

    def done():
        cluster["resourceLabels"] = labels
        cluster["labelFingerprint"] = _fingerprint(labels)
    return _container_op(ctx, "SET_LABELS", key.split(":", 1)[1], done)


@handler("container.projects.locations.clusters.setMaintenancePolicy")
def cluster_set_maintenance(ctx):
    key, cluster = _cluster(ctx)
    policy = dict(ctx.body.get("maintenancePolicy") or {})
    start = ((policy.get("window") or {}).get("dailyMaintenanceWindow") or {}).get("startTime")
    if start is not None and not START_TIME_RE.match(start):
        raise _bad("maintenancePolicy.window.dailyMaintenanceWindow.startTime: '%s' is not a time in HH:MM." % start)
    current = cluster.get("maintenancePolicy") or {}
    if current.get("resourceVersion") and policy.get("resourceVersion") != current["resourceVersion"]:
        raise ApiError(409, "The maintenance policy changed since it was read (resourceVersion).", status="ABORTED")

    def done():
        if start is not None:
            policy["window"]["dailyMaintenanceWindow"]["duration"] = "PT4H0M0S"
        policy["resourceVersion"] = _fingerprint(policy.get("window"))
        cluster["maintenancePolicy"] = policy
    return _container_op(ctx, "SET_MAINTENANCE_POLICY", key.split(":", 1)[1], done)


# -- node pools -------------------------------------------------------------------------------
def _pool(ctx):
    key, cluster = _cluster(ctx)
    for pool in cluster["nodePools"]:
        if pool["name"] == ctx.param("nodePoolsId"):
            return key, cluster, pool
    raise ApiError(404, "Not found: node pool %s." % ctx.param("nodePoolsId"))


@handler("container.projects.locations.clusters.nodePools.create")
def pool_create(ctx):
    key, cluster = _cluster(ctx)
    pool = dict(ctx.body.get("nodePool") or {})
    if not NAME_RE.match(pool.get("name", "")):
        raise _bad("Invalid value for field \"node_pool.name\": \"%s\"." % pool.get("name"))
    if any(p["name"] == pool["name"] for p in cluster["nodePools"]):
        raise ApiError(409, "Already exists: node pool %s." % pool["name"])
    if cluster["status"] != "RUNNING":
        raise ApiError(400, "Cluster is not running (status %s)." % cluster["status"], status="FAILED_PRECONDITION")
    _check_node_pool(pool, ctx.param("locationsId"), ctx.emu)
    cluster["nodePools"].append(new_pool(cluster, pool))
    target = "%s/nodePools/%s" % (key.split(":", 1)[1], pool["name"])

    def failed():
        pool["status"] = "ERROR"
        pool["conditions"] = [{"code": "GCE_STOCKOUT" if "STOCKOUT" in op_holder[0].error.get("code", "") else
                               "GCE_QUOTA_EXCEEDED", "message": op_holder[0].error["message"]}]
    status, body = _container_op(ctx, "CREATE_NODE_POOL", target, lambda: pool.update(status="RUNNING"))
    op_holder = [ctx.emu.operations[body["name"]]]
    op_holder[0].info["on_error"] = failed
    stall = ctx.emu.take_fault(ctx.method.id, "condition")
    if stall:  # as GKE does on a stockout: the operation keeps running, the pool says why
        codes = ctx.emu.registry.apis["container"].doc["schemas"]["StatusCondition"]["properties"]["code"]["enum"]
        if stall["condition"].get("code") not in codes:
            raise ValueError("emulator: a planted condition's code must be a StatusCondition.Code value (%s), not %r"
                             % (", ".join(codes), stall["condition"].get("code")))
        pool["conditions"] = [stall["condition"]]
        op_holder[0].done_at += stall.get("stall_seconds", 3600)
    return status, body


@handler("container.projects.locations.clusters.nodePools.get")
def pool_get(ctx):
    return 200, _pool(ctx)[2]


@handler("container.projects.locations.clusters.nodePools.list")
def pool_list(ctx):
    return 200, {"nodePools": _cluster(ctx)[1]["nodePools"]}


@handler("container.projects.locations.clusters.nodePools.delete")
def pool_delete(ctx):
    key, cluster, pool = _pool(ctx)
    pool["status"] = "STOPPING"
    target = "%s/nodePools/%s" % (key.split(":", 1)[1], pool["name"])
    return _container_op(ctx, "DELETE_NODE_POOL", target, lambda: cluster["nodePools"].remove(pool))


@handler("container.projects.locations.clusters.nodePools.setSize")
def pool_set_size(ctx):
    key, _cluster_, pool = _pool(ctx)
    count = int(ctx.body.get("nodeCount", 0))
    target = "%s/nodePools/%s" % (key.split(":", 1)[1], pool["name"])
    return _container_op(ctx, "SET_NODE_POOL_SIZE", target, lambda: pool.update(initialNodeCount=count))


@handler("container.projects.locations.clusters.nodePools.setAutoscaling")
def pool_set_autoscaling(ctx):
    key, _cluster_, pool = _pool(ctx)
    autoscaling = ctx.body.get("autoscaling", {})
    if autoscaling.get("enabled") and int(autoscaling.get("minNodeCount", 0)) > int(autoscaling.get("maxNodeCount", 0)):
        raise _bad("autoscaling.minNodeCount must not exceed maxNodeCount.")
    target = "%s/nodePools/%s" % (key.split(":", 1)[1], pool["name"])
    # Operation.operationType has no autoscaling value in the container v1 discovery document; an older client
    # library (protobuf 4) refuses a value outside the enum, so only enum values are sent
    return _container_op(ctx, "UPDATE_CLUSTER", target, lambda: pool.update(autoscaling=autoscaling))


@handler("container.projects.locations.operations.get")
def container_operation(ctx):
    op = ctx.emu.operations.get(ctx.param("operationsId"))
    if op is None or op.api != "container":
        raise ApiError(404, "Operation %s not found." % ctx.param("operationsId"))
    return 200, container_op_json(op)


@handler("container.projects.locations.operations.list")
def container_operations(ctx):
    """The project's container operations in a location ("-": all), pending and done, as GKE lists them."""
    project, location = ctx.param("projectsId"), ctx.param("locationsId")
    ctx.emu.tick()
    ops = [container_op_json(op) for op in ctx.emu.operations.values() if op.api == "container"
           and op.info.get("project") == project and location in ("-", op.info.get("location"))]
    return 200, {"operations": ops}
