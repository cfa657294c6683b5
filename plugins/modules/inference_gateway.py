#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: inference_gateway
short_description: The cross-region internal inference gateway of a GKE fleet, on its config cluster
version_added: 0.1.0
description:
  - Manages, on the fleet's config cluster, the multi-cluster Gateway
    (class V(gke-l7-cross-regional-internal-managed-mc)) with one reserved internal address per region,
    the HTTPRoute to the C(GCPInferencePoolImport) that GKE creates for the exported InferencePools,
    the HealthCheckPolicy of the pool's model servers and the GCPBackendPolicy that balances on a
    custom metric with an optional preferred region.
  - Waits for the pool import to appear before routing to it, and for the Gateway to be
    C(Programmed), each with its own timeout and a message that says what is missing.
  - With O(state=absent) deletes the objects in reverse order (policies, route, gateway).
  - Each object is applied by the code of M(kubernetes.core.k8s) with O(kubernetes.core.k8s#module:apply=true)
    (its client, its client-side apply with the C(kubectl.kubernetes.io/last-applied-configuration)
    annotation, its server-side dry run in check mode), as the collection's roles apply their manifests;
    a field the module stops setting is removed, a field someone else set stays.
options:
  kubeconfig:
    description: Kubeconfig of the config cluster (for example the one M(gke_inference.multicluster.gke_kubeconfig) wrote).
    type: path
    required: true
  context:
    description: Context in O(kubeconfig); its current context if not set.
    type: str
  namespace:
    description: Namespace of the gateway objects (and of the exported InferencePools).
    type: str
    default: default
  name:
    description: Name of the Gateway.
    type: str
    default: cross-region-gateway
  gateway_class:
    description: GatewayClass of the Gateway.
    type: str
    default: gke-l7-cross-regional-internal-managed-mc
  addresses:
    description:
      - One reserved regional internal address per region, in a subnet of the clusters' VPC, as
        M(gke_inference.multicluster.compute_address) creates them. Required with O(state=present).
    type: list
    elements: dict
    suboptions:
      region:
        description: The region of the address.
        type: str
        required: true
      name:
        description: The address resource name.
        type: str
        required: true
  listener_port:
    description: Port of the Gateway's HTTP listener.
    type: int
    default: 80
  route_name:
    description: Name of the HTTPRoute.
    type: str
    default: gemma-route
  pool_name:
    description: Name of the exported InferencePool, which is also the name of its C(GCPInferencePoolImport).
    type: str
    default: gemma-pool
  pool_port:
    description: Port of the model servers the route sends to.
    type: int
    default: 8000
  health_check:
    description: The HealthCheckPolicy of the model servers. Defaults detect a dead endpoint in about six seconds.
    type: dict
    default: {}
    suboptions:
      name:
        description: Name of the HealthCheckPolicy.
        type: str
        default: gemma-health-check
      path:
        description: HTTP path checked (vLLM answers C(/health)).
        type: str
        default: /health
      port:
        description: Port checked.
        type: int
        default: 8000
      check_interval_sec:
        description: Seconds between checks (1 to 300).
        type: int
        default: 2
      timeout_sec:
        description: Seconds before a check fails (at most O(health_check.check_interval_sec)).
        type: int
        default: 2
      healthy_threshold:
        description: Consecutive successes that make an endpoint healthy (1 to 10).
        type: int
        default: 2
      unhealthy_threshold:
        description: Consecutive failures that make an endpoint unhealthy (1 to 10).
        type: int
        default: 2
  backend_policy:
    description: The GCPBackendPolicy. Load balancing on the custom metric the AutoscalingMetric exports.
    type: dict
    default: {}
    suboptions:
      name:
        description: Name of the GCPBackendPolicy.
        type: str
        default: gemma-backend-policy
      metric:
        description: Export name of the AutoscalingMetric (the policy uses C(gke.named_metrics.<metric>)).
        type: str
        default: tpu-cache
      max_utilization_percent:
        description: Utilization of the metric (1 to 100) above which traffic spills to other regions.
        type: int
        default: 60
      dry_run:
        description: Report the metric without balancing on it.
        type: bool
        default: false
      preferred_region:
        description:
          - Region whose backends receive traffic first (C(scopes) with C(backendPreference=PREFERRED)).
            Must be one of the regions of O(addresses). Without it traffic goes to the closest region.
        type: str
      timeout_sec:
        description: Backend timeout in seconds (long generations need a long one).
        type: int
        default: 100
      traffic_duration:
        description: C(LONG) for requests that last seconds or more, as LLM inference does.
        type: str
        choices: [LONG, SHORT]
        default: LONG
  wait:
    description: Wait for the pool import before applying the route and policies, and for C(Programmed) after.
    type: bool
    default: true
  import_timeout:
    description: Seconds to wait for the C(GCPInferencePoolImport) to appear.
    type: int
    default: 600
  programmed_timeout:
    description: Seconds to wait for the Gateway to be C(Programmed) (GKE takes 8 to 10 minutes the first time).
    type: int
    default: 900
  poll_interval:
    description: Seconds between two reads while waiting.
    type: float
    default: 5
  state:
    description: Whether the gateway objects should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - gke_inference.multicluster.gcp.ATTRIBUTES
notes:
  - Check mode sends every change as a server-side dry run and does not wait.
  - The public GCPBackendPolicy CRD lacks C(balancingMode), C(customMetrics), C(trafficDuration) and
    C(scopes); GKE's own CRD has them.
requirements:
  - kubernetes >= 29
  - the kubernetes.core collection >= 5.0.0
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Cross-region gateway on the config cluster, us-east5 preferred
  gke_inference.multicluster.inference_gateway:
    kubeconfig: ~/.kube/gke_inference/my-project/gke-us-east5
    addresses:
      - {region: europe-west4, name: gemma-gateway-ip-europe-west4}
      - {region: us-east5, name: gemma-gateway-ip-us-east5}
    backend_policy:
      metric: tpu-cache
      max_utilization_percent: 60
      preferred_region: us-east5
  register: gateway

- name: Where to send requests
  ansible.builtin.debug:
    msg: "{{ gateway.addresses | map(attribute='ip') | list }}"
"""

RETURN = r"""
addresses:
  description: The Gateway's addresses, one per region, once it is programmed (empty before, and in check mode).
  returned: success
  type: list
  elements: dict
  sample: [{region: europe-west4, name: gemma-gateway-ip-europe-west4, ip: 10.0.1.5}]
programmed:
  description: Whether the Gateway's C(Programmed) condition is true.
  returned: success
  type: bool
pool_import:
  description: Whether the C(GCPInferencePoolImport) exists on the config cluster.
  returned: success
  type: bool
objects:
  description: The objects managed and what happened to each (created, updated, deleted, unchanged).
  returned: success
  type: list
  elements: dict
  sample: [{kind: Gateway, name: cross-region-gateway, action: unchanged}]
diff:
  description: Before and after of the changed objects (diff mode).
  returned: when diff mode is on and something changed
  type: dict
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.conditions import condition
from ansible_collections.gke_inference.multicluster.plugins.module_utils.kube import Kube, kube_module, strip_for_diff

GATEWAY_API = "gateway.networking.k8s.io/v1"
GKE_API = "networking.gke.io/v1"
IMPORT = {"group": "networking.gke.io", "kind": "GCPInferencePoolImport"}


def check_params(module):
    p = module.params
    problems = []
    hc, bp = p["health_check"], p["backend_policy"]
    if p["state"] == "present" and not p["addresses"]:
        problems.append("addresses: give one reserved address per region ({region, name}).")
    regions = [a["region"] for a in p["addresses"] or []]
    if len(set(regions)) != len(regions):
        problems.append("addresses: one address per region (%s repeats a region)." % ", ".join(regions))
    if not 1 <= hc["check_interval_sec"] <= 300:
        problems.append("health_check.check_interval_sec: %s is outside 1-300." % hc["check_interval_sec"])
    if not 1 <= hc["timeout_sec"] <= hc["check_interval_sec"]:
        problems.append("health_check.timeout_sec: %s must be between 1 and check_interval_sec (%s)."
                        % (hc["timeout_sec"], hc["check_interval_sec"]))
    for field in ("healthy_threshold", "unhealthy_threshold"):
        if not 1 <= hc[field] <= 10:
            problems.append("health_check.%s: %s is outside 1-10." % (field, hc[field]))
    if not 1 <= bp["max_utilization_percent"] <= 100:
        problems.append("backend_policy.max_utilization_percent: %s is outside 1-100 (60 is the codelab's)."
                        % bp["max_utilization_percent"])
    if bp["preferred_region"] and bp["preferred_region"] not in regions:
        problems.append("backend_policy.preferred_region: %s is not one of the gateway's regions (%s)."
                        % (bp["preferred_region"], ", ".join(regions) or "none"))
    if problems:
        module.fail_json(msg="Invalid parameters: " + " ".join(problems), problems=problems)


def manifests(p):
    ns = p["namespace"]
    hc, bp = p["health_check"], p["backend_policy"]
    target = dict(IMPORT, name=p["pool_name"])
    gateway = {
        "apiVersion": GATEWAY_API, "kind": "Gateway", "metadata": {"name": p["name"], "namespace": ns},
        "spec": {"gatewayClassName": p["gateway_class"],
                 "addresses": [{"type": "networking.gke.io/named-address-with-region",
                                "value": "regions/%s/addresses/%s" % (a["region"], a["name"])} for a in p["addresses"]],
                 "listeners": [{"name": "http", "protocol": "HTTP", "port": p["listener_port"]}]},
    }
    route = {
        "apiVersion": GATEWAY_API, "kind": "HTTPRoute", "metadata": {"name": p["route_name"], "namespace": ns},
        "spec": {"parentRefs": [{"name": p["name"], "kind": "Gateway"}],
                 "rules": [{"backendRefs": [dict(target, port=p["pool_port"])]}]},
    }
    health = {
        "apiVersion": GKE_API, "kind": "HealthCheckPolicy", "metadata": {"name": hc["name"], "namespace": ns},
        "spec": {"targetRef": target, "default": {
            "checkIntervalSec": hc["check_interval_sec"], "timeoutSec": hc["timeout_sec"],
            "healthyThreshold": hc["healthy_threshold"], "unhealthyThreshold": hc["unhealthy_threshold"],
            "config": {"type": "HTTP", "httpHealthCheck": {"requestPath": hc["path"], "port": hc["port"]}}}},
    }
    default = {"timeoutSec": bp["timeout_sec"], "balancingMode": "CUSTOM_METRICS",
               "trafficDuration": bp["traffic_duration"],
               "customMetrics": [{"name": "gke.named_metrics.%s" % bp["metric"], "dryRun": bp["dry_run"],
                                  "maxUtilizationPercent": bp["max_utilization_percent"]}]}
    if bp["preferred_region"]:
        default["scopes"] = [{"selector": {"gke.io/region": bp["preferred_region"]}, "backendPreference": "PREFERRED"}]
    backend = {"apiVersion": GKE_API, "kind": "GCPBackendPolicy", "metadata": {"name": bp["name"], "namespace": ns},
               "spec": {"targetRef": target, "default": default}}
    return gateway, route, health, backend


class Result:
    def __init__(self):
        self.changed, self.objects, self.before, self.after = False, [], {}, {}

    def record(self, obj, changed, before, after, deleted=False):
        key = "%s/%s" % (obj["kind"], obj["metadata"]["name"])
        action = "deleted" if deleted and changed else "created" if changed and before is None else \
            "updated" if changed else "unchanged"
        self.objects.append({"kind": obj["kind"], "name": obj["metadata"]["name"], "action": action})
        if changed:
            self.changed = True
            self.before[key], self.after[key] = strip_for_diff(before), strip_for_diff(None if deleted else after)


def addresses_of(p, gateway):
    ips = [a.get("value") for a in ((gateway or {}).get("status") or {}).get("addresses") or []]
    out = []
    for index, address in enumerate(p["addresses"] or []):
        out.append({"region": address["region"], "name": address["name"],
                    "ip": ips[index] if index < len(ips) else None})
    return out if ips else []


def main():
    health_spec = dict(name=dict(type="str", default="gemma-health-check"), path=dict(type="str", default="/health"),
                       port=dict(type="int", default=8000), check_interval_sec=dict(type="int", default=2),
                       timeout_sec=dict(type="int", default=2), healthy_threshold=dict(type="int", default=2),
                       unhealthy_threshold=dict(type="int", default=2))
    backend_spec = dict(name=dict(type="str", default="gemma-backend-policy"),
                        metric=dict(type="str", default="tpu-cache"),
                        max_utilization_percent=dict(type="int", default=60), dry_run=dict(type="bool", default=False),
                        preferred_region=dict(type="str"), timeout_sec=dict(type="int", default=100),
                        traffic_duration=dict(type="str", choices=["LONG", "SHORT"], default="LONG"))
    module = kube_module(
        argument_spec=dict(
            name=dict(type="str", default="cross-region-gateway"),
            gateway_class=dict(type="str", default="gke-l7-cross-regional-internal-managed-mc"),
            addresses=dict(type="list", elements="dict", options=dict(region=dict(type="str", required=True),
                                                                      name=dict(type="str", required=True))),
            listener_port=dict(type="int", default=80),
            route_name=dict(type="str", default="gemma-route"),
            pool_name=dict(type="str", default="gemma-pool"),
            pool_port=dict(type="int", default=8000),
            health_check=dict(type="dict", default={}, options=health_spec),
            backend_policy=dict(type="dict", default={}, options=backend_spec),
            wait=dict(type="bool", default=True),
            import_timeout=dict(type="int", default=600),
            programmed_timeout=dict(type="int", default=900),
            poll_interval=dict(type="float", default=5),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    p["addresses"] = p["addresses"] or []
    check_params(module)
    kube = Kube(module)
    gateway, route, health, backend = manifests(p)
    result = Result()
    if p["state"] == "absent":
        for obj in (backend, health, route, gateway):
            changed, before = kube.absent(obj["apiVersion"], obj["kind"], obj["metadata"]["name"])
            result.record(obj, changed, before, None, deleted=True)
        if p["wait"] and not module.check_mode:
            # GKE keeps the Gateway (a finalizer) until its load balancer is detached.
            gone = kube.poll(lambda: kube.get(GATEWAY_API, "Gateway", p["name"]) is None, p["programmed_timeout"],
                             p["poll_interval"])
            if not gone:
                module.fail_json(msg="Gateway %s/%s is still present %s s after its deletion: the load balancer has not "
                                     "detached. Check the Gateway's events and finalizers, then run again."
                                 % (p["namespace"], p["name"], p["programmed_timeout"]), **finish(
                                     module, result, addresses=[], programmed=False, pool_import=False))
        module.exit_json(**finish(module, result, addresses=[], programmed=False, pool_import=False))

    changed, before, after = kube.ensure(gateway)
    result.record(gateway, changed, before, after)

    def pool_import():
        # GKE's documentation names the import's group only (it is only ever referenced): any served version
        return kube.get(IMPORT["group"] + "/*", IMPORT["kind"], p["pool_name"])
    found = pool_import() is not None
    if not found and p["wait"] and not module.check_mode:
        found = kube.poll(lambda: pool_import() is not None, p["import_timeout"], p["poll_interval"])
    if not found and not module.check_mode and p["wait"]:
        module.fail_json(
            msg="GCPInferencePoolImport %s/%s did not appear on the config cluster within %d s. Check that the "
                "InferencePool %s exists in every region with the annotation networking.gke.io/export: \"True\", "
                "that multi-cluster service discovery is enabled, and that the clusters are fleet members."
                % (p["namespace"], p["pool_name"], p["import_timeout"], p["pool_name"]),
            **finish(module, result, addresses=[], programmed=False, pool_import=False))
    if not found and module.check_mode:
        module.warn("GCPInferencePoolImport %s does not exist yet; the route and policies are checked against a "
                    "target that GKE creates once the pools are exported." % p["pool_name"])

    for obj in (route, health, backend):
        changed, before, after = kube.ensure(obj)
        result.record(obj, changed, before, after)

    current = kube.get(GATEWAY_API, "Gateway", p["name"])
    programmed = condition(current, "Programmed").get("status") == "True"
    if not programmed and p["wait"] and not module.check_mode:
        def is_programmed():
            latest = kube.get(GATEWAY_API, "Gateway", p["name"])
            return latest if condition(latest, "Programmed").get("status") == "True" else None
        current = kube.poll(is_programmed, p["programmed_timeout"], p["poll_interval"]) or \
            kube.get(GATEWAY_API, "Gateway", p["name"])
        programmed = condition(current, "Programmed").get("status") == "True"
        if not programmed:
            last = condition(current, "Programmed")
            module.fail_json(
                msg="Gateway %s/%s is not Programmed after %d s (reason: %s; message: %s). GKE needs every address "
                    "to be a reserved INTERNAL address in a subnet of the clusters' VPC and a GLOBAL_MANAGED_PROXY "
                    "subnet in each region; the first programming takes 8 to 10 minutes."
                    % (p["namespace"], p["name"], p["programmed_timeout"], last.get("reason", "none yet"),
                       last.get("message") or "none"),
                **finish(module, result, addresses=addresses_of(p, current), programmed=False, pool_import=True))
    module.exit_json(**finish(module, result, addresses=addresses_of(p, current), programmed=programmed,
                              pool_import=bool(found)))


def finish(module, result, **extra):
    out = dict(changed=result.changed, objects=result.objects, **extra)
    if module._diff and result.changed:
        out["diff"] = {"before": result.before, "after": result.after}
    return out


if __name__ == "__main__":
    main()
