"""GKE network isolation: private nodes, the control plane's authorized networks, and what they change.

- A cluster's ``networkConfig.defaultEnablePrivateNodes`` is the default of its node pools, each of which
  records its own ``networkConfig.enablePrivateNodes`` when it is created (container v1 discovery document,
  ``NodeNetworkConfig.enablePrivateNodes``: "derived from Cluster.NetworkConfig.default_enable_private_nodes";
  GKE applies a changed default to new node pools only).
- Nodes with private IP addresses only reach the internet (huggingface.co, Docker Hub) through a Cloud NAT
  gateway of their region that serves their subnet ("About network isolation in GKE"; Cloud NAT overview:
  "You configure Cloud NAT by creating a Cloud NAT gateway in the region of the subnets that require NAT").
- With ``controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig.enabled`` the control
  plane's IP endpoint accepts connections only from the listed CIDR blocks; others are dropped. The
  emulator closes such a connection without an answer (on GKE the client times out). Giving both that
  field and the deprecated ``masterAuthorizedNetworksConfig``, or both ``defaultEnablePrivateNodes`` and
  ``privateClusterConfig.enablePrivateNodes``, is refused: the discovery document calls each pair invalid.
  GKE allows up to 100 authorized networks ("Customize your network isolation", Control plane).
"""

import copy
import ipaddress

from .core import ApiError

MAX_AUTHORIZED = 100


def _bad(message):
    return ApiError(400, message, status="INVALID_ARGUMENT")


def _authorized(config):
    return ((config.get("controlPlaneEndpointsConfig") or {}).get("ipEndpointsConfig") or {}).get(
        "authorizedNetworksConfig")


def check(cluster, prefix="cluster"):
    """Refuse what GKE refuses in a cluster's (or a ClusterUpdate's) isolation settings."""
    authorized = _authorized(cluster)
    if authorized is not None and cluster.get("masterAuthorizedNetworksConfig") is not None:
        raise _bad("%s: it is invalid to specify both masterAuthorizedNetworksConfig and "
                   "controlPlaneEndpointsConfig.ipEndpointsConfig.authorizedNetworksConfig." % prefix)
    if (cluster.get("networkConfig") or {}).get("defaultEnablePrivateNodes") is not None and \
            (cluster.get("privateClusterConfig") or {}).get("enablePrivateNodes") is not None:
        raise _bad("%s: it is invalid to specify both privateClusterConfig.enablePrivateNodes and "
                   "networkConfig.defaultEnablePrivateNodes." % prefix)
    blocks = (authorized or {}).get("cidrBlocks") or []
    if len(blocks) > MAX_AUTHORIZED:
        raise _bad("%s: at most %d authorized networks (got %d)." % (prefix, MAX_AUTHORIZED, len(blocks)))
    for block in blocks:
        try:
            ipaddress.ip_network(block.get("cidrBlock", ""))
        except ValueError:
            raise _bad("%s: authorized network %r is not a CIDR block." % (prefix, block.get("cidrBlock"))) from None


# Messages whose fields have no presence (plain proto3 bool, repeated): given, such a message is the whole new
# value, an omitted field in it is its default (MasterAuthorizedNetworksConfig.enabled and cidrBlocks are not
# optional in the container v1 types). Elsewhere an update leaves what it omits (IPEndpointsConfig's bools are
# optional).
WHOLE = ("authorizedNetworksConfig",)


def merge(current, value, key=None):
    """An update of a message: the fields it sets replace, those it leaves out stay (proto3 optional)."""
    if key in WHOLE or not isinstance(current, dict) or not isinstance(value, dict):
        return copy.deepcopy(value)
    out = dict(current)
    for name, item in value.items():
        out[name] = merge(current.get(name), item, name)
    return out


def new_pool(cluster, pool):
    """Record on a new node pool whether its nodes are private (the cluster's default unless the pool says)."""
    network = pool.setdefault("networkConfig", {})
    network.setdefault("enablePrivateNodes", bool((cluster.get("networkConfig") or {}).get("defaultEnablePrivateNodes")))
    return pool


def admits(cluster, address):
    """Whether the control plane accepts a connection from ``address``."""
    authorized = _authorized(cluster)
    if not authorized or not authorized.get("enabled"):
        return True
    ip = ipaddress.ip_address(address)
    return any(ip in ipaddress.ip_network(block["cidrBlock"]) for block in authorized.get("cidrBlocks") or [])


def region_of(location):
    """The region of a zone (``us-east5-b``) or region (``us-east5``)."""
    return location.rsplit("-", 1)[0] if location.count("-") == 2 else location


def internet_egress(emu, project, cluster, pool_name):
    """Whether pods on the nodes of ``pool_name`` reach the internet: public nodes do; private ones only through
    a Cloud NAT gateway (a NAT of a router on the cluster's network, in the subnet's region, serving it)."""
    pool = next((p for p in cluster.get("nodePools") or [] if p.get("name") == pool_name), None)
    if pool is None or not (pool.get("networkConfig") or {}).get("enablePrivateNodes"):
        return True
    region = region_of(cluster.get("location", ""))
    network = "/global/networks/%s" % cluster.get("network", "default")
    subnet = "/regions/%s/subnetworks/%s" % (region, cluster.get("subnetwork", ""))
    for _key, router in emu.items("compute:projects/%s/regions/%s/routers/" % (project, region)):
        if not router.get("network", "").endswith(network):
            continue
        for nat in router.get("nats") or []:
            if nat.get("type", "PUBLIC") != "PUBLIC":
                continue
            scope = nat.get("sourceSubnetworkIpRangesToNat")
            if scope in ("ALL_SUBNETWORKS_ALL_IP_RANGES", "ALL_SUBNETWORKS_ALL_PRIMARY_IP_RANGES") or any(
                    s.get("name", "").endswith(subnet) for s in nat.get("subnetworks") or []):
                return True
    return False
