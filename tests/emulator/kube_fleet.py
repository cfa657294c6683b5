"""The fleet's controllers: exported InferencePools become GCPInferencePoolImports on the config cluster,
multi-cluster Gateways get their addresses and Programmed, HTTPRoutes their status, and GKE's own firewall
rules for multi-cluster service discovery and the gateway.
"""

import time

from .compute import controller_firewall
from .kube import now
from .kube_common import _hash


EXPORT = "networking.gke.io/export"


# -- fleet: config cluster, pool export/import, gateways ---------------------------------------
def config_cluster(emu, project):
    """The container path of the fleet's multi-cluster ingress config cluster, or None."""
    feature = emu.get("gkehub:projects/%s/locations/global/features/multiclusteringress" % project)
    member = ((feature or {}).get("spec", {}).get("multiclusteringress", {}) or {}).get("configMembership", "")
    if not member:
        return None
    membership = emu.get("gkehub:projects/%s/locations/global/memberships/%s" % (project, member.rsplit("/", 1)[-1]))
    link = ((membership or {}).get("endpoint", {}).get("gkeCluster", {}) or {}).get("resourceLink", "")
    return link.replace("//container.googleapis.com/", "") or None


def fleet_members(emu, project):
    """Container paths of the clusters registered to the project's fleet."""
    out = set()
    for _key, membership in emu.items("gkehub:projects/%s/locations/global/memberships/" % project):
        link = membership.get("endpoint", {}).get("gkeCluster", {}).get("resourceLink", "")
        out.add(link.replace("//container.googleapis.com/", ""))
    return out


def auto_firewall(emu, project, network, name, ranges, ports):
    """A firewall rule a Google controller creates on its own (and recreates while it runs), through the
    emulated Compute Engine (compute.py)."""
    controller_firewall(emu, project, {
        "name": name, "network": "global/networks/%s" % network,
        "description": '{"kubernetes.io/cluster-id":"emulated","managed-by":"gke-multi-cluster-controller"}',
        "sourceRanges": ranges, "allowed": [{"IPProtocol": "tcp", "ports": ports}]})


def auto_firewalls(emu, project, mcs, config):
    """What the fleet's controllers add to a cluster's network: multi-cluster service discovery opens
    each member to the others (``gke-<cluster>-mcsd``), the multi-cluster gateway controller opens the
    pods to the proxy-only subnets (``k8s-fw-l7-...``). Neither is deleted with the gateway or the
    membership: the seeds' teardown hunts them down after the features are gone."""
    if mcs is not None:
        for path in fleet_members(emu, project):
            cluster = emu.get("container:" + path)
            if cluster:
                auto_firewall(emu, project, cluster.get("network", "default"), "gke-%s-%s-mcsd" % (
                    cluster["name"][:30], _hash(path)[:8]), [cluster.get("clusterIpv4Cidr") or "10.0.0.0/8"],
                    ["1-65535"])
    if config is not None:
        for gateway in config.list("gateway.networking.k8s.io", "gateways"):
            if any(c["type"] == "Programmed" and c["status"] == "True"
                   for c in (gateway.get("status") or {}).get("conditions", [])):
                network = config.cluster.get("network", "default")
                proxies = [s["ipCidrRange"] for _k, s in emu.items("compute:projects/%s/regions/" % project)
                           if s.get("purpose") == "GLOBAL_MANAGED_PROXY" and s.get("network", "").endswith(
                               "/" + network)]
                auto_firewall(emu, project, network, "k8s-fw-l7-gxlb-%s" % _hash(
                    [project, network, gateway["metadata"]["uid"]])[:10], sorted(proxies), ["8000"])


def reconcile_fleet(emu):
    clusters = getattr(emu, "kube", {})
    by_path = {key.split(":", 1)[1]: kube for key, kube in clusters.items()}
    projects = {kube.project for kube in clusters.values()}
    for project in projects:
        config_path = config_cluster(emu, project)
        config = by_path.get(config_path)
        mcs = emu.get("gkehub:projects/%s/locations/global/features/multiclusterservicediscovery" % project)
        members = fleet_members(emu, project)
        exported = {}
        if mcs is not None:
            for path, kube in by_path.items():
                if path not in members or kube.project != project:
                    continue
                for pool in kube.list("inference.networking.k8s.io", "inferencepools"):
                    if (pool["metadata"].get("annotations") or {}).get(EXPORT) == "True":
                        key = (pool["metadata"]["namespace"], pool["metadata"]["name"])
                        exported.setdefault(key, []).append(kube)
        seen = emu.kube_state.setdefault(("exports", project), {})
        for key in list(seen):
            if key not in exported:
                seen.pop(key)
        for key in exported:
            seen.setdefault(key, time.time())
        for kube in by_path.values():
            if kube.project != project:
                continue
            for imp in kube.list("networking.gke.io", "gcpinferencepoolimports"):
                key = (imp["metadata"]["namespace"], imp["metadata"]["name"])
                if kube is not config or key not in exported:
                    kube.remove("networking.gke.io", "gcpinferencepoolimports", *key)
        auto_firewalls(emu, project, mcs, config)
        if config is None:
            continue
        for key, exporters in exported.items():
            if time.time() < seen[key] + emu.delay_for("kube.pool_import"):
                continue
            if config.get("", "namespaces", "", key[0]) is None:
                continue
            existing = config.get("networking.gke.io", "gcpinferencepoolimports", *key)
            status = {"clusters": sorted(({"membership": k.name, "region": k.region} for k in exporters),
                                         key=lambda c: c["membership"])}
            if existing is None:
                config.put("networking.gke.io", "gcpinferencepoolimports", {
                    "metadata": {"name": key[1], "namespace": key[0],
                                 "labels": {"networking.gke.io/managed-by": "gke-multi-cluster-inference"}},
                    "spec": {}, "status": status})
            else:
                config.set_status(existing, status)
        for gateway in config.list("gateway.networking.k8s.io", "gateways"):
            if gateway["metadata"].get("deletionTimestamp"):
                if time.time() >= config.state.get(("gateway-detach", gateway["metadata"]["uid"]), 0):
                    config.remove("gateway.networking.k8s.io", "gateways", gateway["metadata"]["namespace"],
                                  gateway["metadata"]["name"])
                continue
            program_gateway(emu, config, gateway)
        for route in config.list("gateway.networking.k8s.io", "httproutes"):
            route_status(config, route)


def program_gateway(emu, kube, gateway):
    spec = gateway["spec"]
    if not spec.get("gatewayClassName", "").endswith("-mc"):
        return
    state = emu.kube_state.setdefault(("gateway", gateway["metadata"]["uid"]), {})
    if state.get("generation") != gateway["metadata"]["generation"]:
        state.update(generation=gateway["metadata"]["generation"], since=time.time())
    problems, addresses = [], []
    network = kube.cluster.get("network", "default")
    for address in spec.get("addresses") or []:
        if address.get("type") != "networking.gke.io/named-address-with-region":
            problems.append("address type %s is not supported by %s" % (address.get("type"), spec["gatewayClassName"]))
            continue
        path = "projects/%s/%s" % (kube.project, address.get("value", ""))
        found = emu.get("compute:" + path)
        if found is None:
            problems.append("address %s does not exist" % address.get("value"))
            continue
        purposes = ("GCE_ENDPOINT", "SHARED_LOADBALANCER_VIP")
        if found.get("addressType") != "INTERNAL" or found.get("purpose") not in purposes:
            problems.append("address %s must be an INTERNAL address of a subnet (purpose GCE_ENDPOINT or "
                            "SHARED_LOADBALANCER_VIP)" % address["value"])
        region = address["value"].split("/")[1]
        proxies = [s for _k, s in emu.items("compute:projects/%s/regions/%s/subnetworks/" % (kube.project, region))
                   if s.get("purpose") == "GLOBAL_MANAGED_PROXY" and s.get("network", "").endswith("/" + network)]
        if not proxies:
            problems.append("region %s has no GLOBAL_MANAGED_PROXY subnet in network %s" % (region, network))
        addresses.append({"type": "IPAddress", "value": found.get("address")})
    generation = gateway["metadata"]["generation"]
    ready = not problems and time.time() >= state["since"] + emu.delay_for("kube.gateway_program")
    old = {c["type"]: c for c in (gateway.get("status") or {}).get("conditions", [])}

    def condition(kind, ok, reason, message):
        previous = old.get(kind)
        since = previous["lastTransitionTime"] if previous and previous["status"] == str(ok) else now()
        return {"type": kind, "status": str(ok), "reason": reason, "message": message,
                "observedGeneration": generation, "lastTransitionTime": since}
    routes = [r for r in kube.list("gateway.networking.k8s.io", "httproutes", gateway["metadata"]["namespace"])
              if any(p.get("name") == gateway["metadata"]["name"] for p in r["spec"].get("parentRefs") or [])]
    reason = "Programmed" if ready else ("Invalid" if problems else "Pending")
    message = "; ".join(problems) if problems else ("" if ready else "Waiting for the load balancer")
    listeners = [{"name": listener["name"], "attachedRoutes": len(routes),
                  "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                  "conditions": [condition("Programmed", ready, "Programmed" if ready else "Pending", "")]}
                 for listener in spec.get("listeners") or []]
    status = {"conditions": [condition("Accepted", True, "Accepted", ""),
                             condition("Programmed", ready, reason, message)], "listeners": listeners}
    if ready:
        status["addresses"] = addresses
    kube.set_status(gateway, status)


BACKEND_KINDS = {"GCPInferencePoolImport": ("networking.gke.io", "gcpinferencepoolimports"), "Service": ("", "services"),
                 "InferencePool": ("inference.networking.k8s.io", "inferencepools")}


def route_status(kube, route):
    parents = []
    for ref in route["spec"].get("parentRefs") or []:
        missing = []
        for rule in route["spec"].get("rules") or []:
            for backend in rule.get("backendRefs") or []:
                plural = BACKEND_KINDS.get(backend.get("kind", "Service"))
                if plural is None or kube.get(plural[0], plural[1], route["metadata"]["namespace"], backend["name"]) is None:
                    missing.append("%s %s" % (backend.get("kind", "Service"), backend["name"]))
        parents.append({"parentRef": ref, "controllerName": "networking.gke.io/gateway", "conditions": [
            {"type": "Accepted", "status": "True", "reason": "Accepted"},
            {"type": "ResolvedRefs", "status": str(not missing), "reason": "ResolvedRefs" if not missing else
             "BackendNotFound", "message": ", ".join("%s not found" % m for m in missing)}]})
    kube.set_status(route, {"parents": parents})
