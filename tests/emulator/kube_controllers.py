"""Simulated controllers of the emulated clusters, run before and after every Kubernetes request.

Each one is small and says what it checks, because the collection is tested against them:
- nodes from the cluster's node pools (labels GKE puts on TPU / GPU / spot nodes, extended resources);
- Deployments own Pods directly (no ReplicaSets); Pods are scheduled against node selectors,
  extended resources and DRA claims (``netdev.google.com`` needs the DRANET node label), need their
  service account, secrets and, for GCS FUSE volumes, the sidecar annotation and a Workload Identity
  grant on the bucket; they become Ready after the profile's model-load time (latency
  ``kube.model_load.tpu`` / ``.gpu``) or ``kube.pod_start``;
- Jobs run one Pod at a time up to ``backoffLimit``; a Job whose container declares ``HF_MODEL_ID``,
  ``MODEL_DIR`` and ``COMPLETE_MARKER`` behaves as a Hugging Face download into the FUSE-mounted bucket
  (token required for gated models, write permission checked) and logs what it did;
- multi-cluster Gateways on the fleet's config cluster get their named regional addresses and
  ``Programmed`` after ``kube.gateway_program``; InferencePools annotated
  ``networking.gke.io/export: "True"`` on fleet members produce a ``GCPInferencePoolImport`` on the
  config cluster after ``kube.pool_import``; HPAs report whether the custom metrics API exists and
  whether the metrics could leave the nodes at all (the nodes' service account may write time series).
"""

import hashlib
import json
import os
import time

from . import images
from .kube import now

TPU_ACCELERATORS = {"ct6e": "tpu-v6e-slice", "ct5lp": "tpu-v5-lite-podslice", "ct5p": "tpu-v5p-slice"}
TPU_TOPOLOGY = {1: "1x1", 4: "2x2", 8: "2x4"}
READ_ROLES = {"roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin",
              "roles/storage.admin", "roles/storage.legacyObjectReader"}
WRITE_ROLES = {"roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin",
               "roles/storage.objectCreator"}
DRA_LABEL = "cloud.google.com/gke-networking-dra-driver"
# Roles that hold monitoring.timeSeries.create, which managed Prometheus' collectors on a node need to write
# the workload's metrics with the node's service account (IAM roles reference: Monitoring roles, basic roles;
# GKE: "Use least privilege service accounts for your nodes", roles/container.defaultNodeServiceAccount).
# Seed 003 step 6 names roles/monitoring.metricWriter for the nodes.
METRIC_WRITER_ROLES = {"roles/monitoring.metricWriter", "roles/monitoring.editor", "roles/monitoring.admin",
                       "roles/container.defaultNodeServiceAccount", "roles/editor", "roles/owner"}
# What the emulated Hugging Face hub holds: model id -> (gated, number of weight shards, shard GiB).
HF_MODELS = {
    "google/gemma-3-27b-it": (True, 12, 4.6),
    "google/gemma-3-1b-it": (True, 1, 2.0),
    "meta-llama/Llama-3.1-8B-Instruct": (True, 4, 4.0),
    "Qwen/Qwen3-0.6B": (False, 1, 1.4),
}
EXPORT = "networking.gke.io/export"


def reconcile(emu):
    for kube in list(getattr(emu, "kube", {}).values()):
        reconcile_nodes(kube)
        for deployment in kube.list("apps", "deployments"):
            reconcile_deployment(kube, deployment)
        for job in kube.list("batch", "jobs"):
            reconcile_job(kube, job)
        for pod in kube.list("", "pods"):
            advance_pod(kube, pod)
        for deployment in kube.list("apps", "deployments"):
            deployment_status(kube, deployment)
        for job in kube.list("batch", "jobs"):
            job_status(kube, job)
        for hpa in kube.list("autoscaling", "horizontalpodautoscalers"):
            hpa_status(kube, hpa)
        for svc in kube.list("apiregistration.k8s.io", "apiservices"):
            kube.set_status(svc, {"conditions": [{"type": "Available", "status": "True", "reason": "Passed",
                                                  "lastTransitionTime": svc["metadata"]["creationTimestamp"]}]})
    reconcile_fleet(emu)


def on_delete(kube, kind, obj, grace=None):
    """Return True when a controller takes over the deletion: pods terminate gracefully; a programmed
    multi-cluster Gateway stays (GKE's finalizer) until its load balancer is detached."""
    if (kind.group, kind.plural) == ("gateway.networking.k8s.io", "gateways"):
        programmed = any(c["type"] == "Programmed" and c["status"] == "True"
                         for c in (obj.get("status") or {}).get("conditions", []))
        if not programmed or obj["metadata"].get("deletionTimestamp"):
            return bool(obj["metadata"].get("deletionTimestamp"))
        obj["metadata"]["deletionTimestamp"] = now()
        obj["metadata"]["finalizers"] = ["gateway.finalizer.networking.gke.io"]
        kube.state[("gateway-detach", obj["metadata"]["uid"])] = time.time() + _delay(kube, "kube.gateway_detach")
        return True
    if kind.plural != "pods" or kind.group:
        return False
    return terminate(kube, obj, grace)


def terminate(kube, pod, grace=None):
    """Graceful pod deletion, as the kubelet does it: the pod turns not-Ready at once (its endpoint is
    withdrawn), runs its preStop hook, then the container gets SIGTERM. The pod object goes when the
    container has exited, at the latest after the grace period. Returns False when the pod goes at once."""
    if pod["metadata"].get("deletionTimestamp"):
        return True
    spec = pod["spec"]
    grace = int(spec.get("terminationGracePeriodSeconds", 30) if grace is None else grace)
    if grace <= 0 or pod["status"].get("phase") in ("Succeeded", "Failed") or not spec.get("nodeName"):
        kube.remove("", "pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        return False
    pre_stop = 0
    for container in spec.get("containers", []):
        hook = (container.get("lifecycle") or {}).get("preStop") or {}
        pre_stop = max(pre_stop, int((hook.get("sleep") or {}).get("seconds", 0)))
    pod["metadata"]["deletionTimestamp"] = now()
    pod["metadata"]["deletionGracePeriodSeconds"] = grace
    state = kube.state.setdefault(("pod", pod["metadata"]["uid"]), {})
    state["gone_at"] = time.time() + min(grace, pre_stop) * kube.emu.dataplane_scale
    kube.set_status(pod, dict(pod["status"], conditions=[
        dict(c, status="False") if c["type"] in ("Ready", "ContainersReady") else c
        for c in pod["status"].get("conditions", [])]))
    return True


def _delay(kube, key):
    return kube.emu.delay_for(key)


def _hash(value):
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


# -- nodes ------------------------------------------------------------------------------------
def pool_node_labels(pool, region):
    config = pool.get("config", {})
    machine = config.get("machineType", "e2-medium")
    labels = {"cloud.google.com/gke-nodepool": pool["name"], "kubernetes.io/os": "linux",
              "node.kubernetes.io/instance-type": machine, "topology.kubernetes.io/region": region}
    capacity = {"cpu": "8", "memory": "32Gi", "pods": "110"}
    family = machine.split("-")[0]
    if family in TPU_ACCELERATORS:
        chips = int(machine.rsplit("-", 1)[1].rstrip("t"))
        labels["cloud.google.com/gke-tpu-accelerator"] = TPU_ACCELERATORS[family]
        labels["cloud.google.com/gke-tpu-topology"] = (pool.get("placementPolicy") or {}).get(
            "tpuTopology") or TPU_TOPOLOGY.get(chips, "1x1")
        capacity["google.com/tpu"] = str(chips)
    for accel in config.get("accelerators") or []:
        labels["cloud.google.com/gke-accelerator"] = accel["acceleratorType"]
        capacity["nvidia.com/gpu"] = str(accel.get("acceleratorCount", 1))
    if config.get("spot"):
        labels["cloud.google.com/gke-spot"] = "true"
    labels.update(config.get("labels") or {})
    return labels, capacity


def reconcile_nodes(kube):
    wanted = {}
    for pool in kube.cluster.get("nodePools", []):
        if pool.get("status") not in ("RUNNING", "RUNNING_WITH_ERROR", "RECONCILING"):
            continue
        labels, capacity = pool_node_labels(pool, kube.region)
        auto = pool.get("autoscaling") or {}
        count = int(auto.get("maxNodeCount", 1)) if auto.get("enabled") else int(pool.get("initialNodeCount", 1))
        for zone in pool.get("locations") or [kube.location]:
            for index in range(count):
                name = "gke-%s-%s-%s-%d" % (kube.name[:20], pool["name"][:20], _hash(zone)[:4], index)
                wanted[name] = dict(labels, **{"topology.kubernetes.io/zone": zone, "kubernetes.io/hostname": name}), \
                    capacity
    for node in kube.list("", "nodes"):
        if node["metadata"]["name"] not in wanted:
            kube.remove("", "nodes", "", node["metadata"]["name"])
    for name, (labels, capacity) in wanted.items():
        node = kube.get("", "nodes", "", name)
        if node is None or node["metadata"].get("labels") != labels:
            kube.put("", "nodes", {"metadata": {"name": name, "labels": labels}, "spec": {}, "status": {
                "capacity": capacity, "allocatable": capacity,
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}})


# -- pods -------------------------------------------------------------------------------------
def new_pod(kube, owner, template, name, extra_labels=None):
    meta = template.get("metadata") or {}
    pod = {"metadata": {"name": name, "namespace": owner["metadata"]["namespace"],
                        "labels": dict(meta.get("labels") or {}, **(extra_labels or {})),
                        "annotations": dict(meta.get("annotations") or {}),
                        "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                             "name": owner["metadata"]["name"], "uid": owner["metadata"]["uid"],
                                             "controller": True, "blockOwnerDeletion": True}]},
           "spec": json.loads(json.dumps(template.get("spec") or {})),
           "status": {"phase": "Pending", "conditions": []}}
    pod["spec"].setdefault("serviceAccountName", "default")
    return kube.put("", "pods", pod)


def _requests(pod):
    total = {}
    for container in pod["spec"].get("containers", []):
        for key, value in ((container.get("resources") or {}).get("requests") or {}).items():
            if "/" in key:
                total[key] = total.get(key, 0) + int(value)
    return total


def _unschedulable(kube, pod, why):
    kube.set_status(pod, {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": why}]})


def schedule(kube, pod):
    """Pick a node for the pod or say why none fits (as the scheduler's message does)."""
    nodes = kube.list("", "nodes")
    selector = pod["spec"].get("nodeSelector") or {}
    wants = _requests(pod)
    claims = []
    for claim in pod["spec"].get("resourceClaims") or []:
        template = kube.get("resource.k8s.io", "resourceclaimtemplates", pod["metadata"]["namespace"],
                            claim.get("resourceClaimTemplateName", ""))
        if template is None:
            return _unschedulable(kube, pod, 'resourceclaimtemplate "%s" not found' % claim.get(
                "resourceClaimTemplateName"))
        claims.append((claim["name"], template))
    reasons = {}
    for node in nodes:
        labels = node["metadata"]["labels"]
        if any(labels.get(k) != v for k, v in selector.items()):
            reasons["node(s) didn't match Pod's node affinity/selector"] = reasons.get(
                "node(s) didn't match Pod's node affinity/selector", 0) + 1
            continue
        used = {}
        for other in kube.list("", "pods", None):
            if other["spec"].get("nodeName") == node["metadata"]["name"] and other is not pod:
                for key, value in _requests(other).items():
                    used[key] = used.get(key, 0) + value
        short = [k for k, v in wants.items() if used.get(k, 0) + v > int(node["status"]["allocatable"].get(k, 0))]
        if short:
            reason = "Insufficient %s" % short[0]
            reasons[reason] = reasons.get(reason, 0) + 1
            continue
        needs_dra = any(r.get("exactly", {}).get("deviceClassName") == "netdev.google.com" for _n, t in claims
                        for r in t["spec"].get("spec", {}).get("devices", {}).get("requests", []))
        if needs_dra and labels.get(DRA_LABEL) != "true":
            reasons["cannot allocate all claims"] = reasons.get("cannot allocate all claims", 0) + 1
            continue
        return bind(kube, pod, node, claims)
    why = "0/%d nodes are available: %s." % (len(nodes), ", ".join(
        "%d %s" % (n, r) for r, n in sorted(reasons.items())) or "no nodes")
    if (pod["status"].get("conditions") or [{}])[0].get("message") != why:
        kube.event(pod, "FailedScheduling", why, "Warning")
    return _unschedulable(kube, pod, why)


def bind(kube, pod, node, claims):
    pod["spec"]["nodeName"] = node["metadata"]["name"]
    statuses = []
    for name, template in claims:
        claim_name = "%s-%s-%s" % (pod["metadata"]["name"], name, _hash(pod["metadata"]["uid"])[:5])
        results = []
        for request in template["spec"].get("spec", {}).get("devices", {}).get("requests", []):
            driver = request.get("exactly", {}).get("deviceClassName", "")
            devices = ["eth1", "eth2", "eth3", "eth4"] if driver == "netdev.google.com" else ["dev0"]
            if request.get("exactly", {}).get("allocationMode", "ExactCount") != "All":
                devices = devices[:int(request.get("exactly", {}).get("count", 1))]
            results += [{"request": request["name"], "driver": driver, "pool": node["metadata"]["name"],
                         "device": d} for d in devices]
        kube.put("resource.k8s.io", "resourceclaims", {
            "metadata": {"name": claim_name, "namespace": pod["metadata"]["namespace"],
                         "annotations": {"resource.kubernetes.io/pod-claim-name": name},
                         "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"],
                                              "uid": pod["metadata"]["uid"], "controller": True}]},
            "spec": template["spec"].get("spec", {}),
            "status": {"allocation": {"devices": {"results": results}},
                       "reservedFor": [{"resource": "pods", "name": pod["metadata"]["name"],
                                        "uid": pod["metadata"]["uid"]}]}})
        statuses.append({"name": name, "resourceClaimName": claim_name})
    status = {"phase": "Pending", "hostIP": "10.0.0.%d" % (int(_hash(node["metadata"]["name"]), 16) % 250 + 2),
              "podIP": "10.%d.%d.%d" % tuple(int(_hash(pod["metadata"]["uid"])[i:i + 2], 16) % 250 + 2
                                             for i in (0, 2, 4)),
              "startTime": now(), "conditions": [{"type": "PodScheduled", "status": "True"}]}
    if statuses:
        status["resourceClaimStatuses"] = statuses
    pod["status"] = status
    kube.state[("pod", pod["metadata"]["uid"])] = {"bound": time.time()}
    return True


def _principal(kube, namespace, ksa):
    number = kube.emu.projects.get(kube.project, {}).get("number", "0")
    return "principal://iam.googleapis.com/projects/%s/locations/global/workloadIdentityPools/%s.svc.id.goog/" \
           "subject/ns/%s/sa/%s" % (number, kube.project, namespace, ksa)


def bucket_roles(kube, bucket, namespace, ksa):
    policy = kube.emu.get("storage:iam/" + bucket) or {}
    member = _principal(kube, namespace, ksa)
    return {b["role"] for b in policy.get("bindings", []) if member in b.get("members", [])}


def start_problem(kube, pod):
    """Why the pod's containers cannot start (None when they can), as the kubelet would report it."""
    ns = pod["metadata"]["namespace"]
    for container in pod["spec"].get("containers", []):
        failure = images.start_failure(container)
        if failure:
            return failure
    for container in pod["spec"].get("containers", []):
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef")
            if ref and not ref.get("optional"):
                secret = kube.get("", "secrets", ns, ref["name"])
                if secret is None:
                    return "CreateContainerConfigError", 'secret "%s" not found' % ref["name"]
                if ref["key"] not in (secret.get("data") or {}) and ref["key"] not in (secret.get("stringData") or {}):
                    return "CreateContainerConfigError", "couldn't find key %s in Secret %s/%s" % (
                        ref["key"], ns, ref["name"])
    for volume in pod["spec"].get("volumes") or []:
        config = volume.get("configMap") or {}
        if config and not config.get("optional") and kube.get("", "configmaps", ns, config.get("name", "")) is None:
            return "ContainerCreating", 'MountVolume.SetUp failed for volume "%s" : configmap "%s" not found' % (
                volume["name"], config.get("name", ""))
        csi = volume.get("csi") or {}
        if csi.get("driver") != "gcsfuse.csi.storage.gke.io":
            continue
        if not kube.cluster.get("addonsConfig", {}).get("gcsFuseCsiDriverConfig", {}).get("enabled"):
            return "ContainerCreating", "MountVolume.SetUp failed for volume %s: driver name " \
                                        "gcsfuse.csi.storage.gke.io not found in the list of registered CSI " \
                                        "drivers" % volume["name"]
        if pod["metadata"].get("annotations", {}).get("gke-gcsfuse/volumes") != "true":
            return "ContainerCreating", "MountVolume.SetUp failed for volume %s: failed to find the sidecar " \
                                        "container in Pod spec (annotation gke-gcsfuse/volumes: \"true\" is " \
                                        "missing)" % volume["name"]
        bucket = (csi.get("volumeAttributes") or {}).get("bucketName", "")
        if kube.emu.get("storage:b/" + bucket) is None:
            return "ContainerCreating", "MountVolume.SetUp failed for volume %s: bucket %s does not exist" % (
                volume["name"], bucket)
        if not bucket_roles(kube, bucket, ns, pod["spec"]["serviceAccountName"]) & READ_ROLES:
            return "ContainerCreating", "MountVolume.SetUp failed for volume %s: storage.objects.list access to " \
                                        "bucket %s denied for %s" % (
                                            volume["name"], bucket, _principal(kube, ns, pod["spec"]["serviceAccountName"]))
        if csi.get("readOnly") and _job_of(kube, pod) is None and not _runs_vllm(pod):
            main = _main_container(pod)
            reason, why = images.describe_exit(main)
            return "CrashLoopBackOff", "back-off restarting failed container %s (last state: %s): %s" % (
                main["name"], reason, why)
        if csi.get("readOnly") and _job_of(kube, pod) is None:
            prefix = _only_dir(csi.get("volumeAttributes") or {})
            if not [k for k, _o in kube.emu.items("storage:o/%s/%s" % (bucket, prefix)) if k.endswith("/config.json")]:
                return "CrashLoopBackOff", "the model server exited: no config.json under gs://%s/%s (the model " \
                                           "is not in the bucket yet)" % (bucket, prefix)
    return None


def _runs_vllm(pod):
    return any(images.vllm_options(c) is not None for c in pod["spec"].get("containers", []))


def _main_container(pod):
    """The container with the accelerators (the model server's), else the first."""
    containers = pod["spec"].get("containers", [])
    return next((c for c in containers if set((c.get("resources") or {}).get("limits") or {})
                 & {"google.com/tpu", "nvidia.com/gpu"}), containers[0])


def _only_dir(attrs):
    for option in (attrs.get("mountOptions") or "").split(","):
        if option.startswith("only-dir="):
            return option.split("=", 1)[1].strip("/") + "/"
    return ""


def _is_model_server(pod):
    return any(v.get("csi", {}).get("driver") == "gcsfuse.csi.storage.gke.io" for v in pod["spec"].get("volumes") or [])


def advance_pod(kube, pod):
    if pod["metadata"].get("deletionTimestamp"):
        if time.time() >= kube.state.get(("pod", pod["metadata"]["uid"]), {}).get("gone_at", 0):
            kube.remove("", "pods", pod["metadata"]["namespace"], pod["metadata"]["name"])
        return
    if pod["status"].get("phase") in ("Succeeded", "Failed"):
        return
    if not pod["spec"].get("nodeName"):
        schedule(kube, pod)
        if not pod["spec"].get("nodeName"):
            return
    state = kube.state.setdefault(("pod", pod["metadata"]["uid"]), {"bound": time.time()})
    containers = pod["spec"].get("containers", [])
    problem = start_problem(kube, pod)
    if problem:
        state.pop("running", None)
        status = dict(pod["status"], phase="Pending", containerStatuses=[
            {"name": c["name"], "image": c.get("image"), "ready": False, "started": False, "restartCount": 0,
             "state": {"waiting": {"reason": problem[0], "message": problem[1]}}} for c in containers])
        if kube.set_status(pod, status):
            kube.event(pod, "FailedMount" if problem[0] == "ContainerCreating" else "Failed", problem[1], "Warning")
        return
    if "running" not in state:
        state["running"] = time.time()
        tpu = any("google.com/tpu" in (c.get("resources") or {}).get("requests", {}) for c in containers)
        downloads = any(e.get("name") == "HF_MODEL_ID" for c in containers for e in c.get("env") or [])
        if _job_of(kube, pod) is not None and downloads:
            state["ready_at"] = state["running"] + _delay(kube, "kube.model_download")
        elif _is_model_server(pod) and _job_of(kube, pod) is None:
            state["ready_at"] = state["running"] + _delay(kube, "kube.model_load.tpu" if tpu else "kube.model_load.gpu")
        else:
            state["ready_at"] = state["running"] + _delay(kube, "kube.pod_start")
    ready = time.time() >= state["ready_at"]
    job = _job_of(kube, pod)
    if job is not None and ready:
        return finish_job_pod(kube, job, pod)
    started = pod["status"].get("startTime") or now()
    status = dict(pod["status"], phase="Running", containerStatuses=[
        {"name": c["name"], "image": c.get("image"), "ready": ready, "started": True, "restartCount": 0,
         "state": {"running": {"startedAt": started}}} for c in containers])
    status["conditions"] = [{"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
                            {"type": "ContainersReady", "status": str(ready)}, {"type": "Ready", "status": str(ready)}]
    kube.set_status(pod, status)


def _owned(kube, owner, group="", plural="pods"):
    uid = owner["metadata"]["uid"]
    return [o for o in kube.list(group, plural, owner["metadata"]["namespace"])
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences", []))]


def _pod_ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))


# -- deployments ------------------------------------------------------------------------------
def _missing_service_account(kube, obj, template):
    ns, sa = obj["metadata"]["namespace"], (template.get("spec") or {}).get("serviceAccountName") or "default"
    if sa != "default" and kube.get("", "serviceaccounts", ns, sa) is None:
        return 'pods "%s-" is forbidden: error looking up service account %s/%s: serviceaccount "%s" not found' % (
            obj["metadata"]["name"], ns, sa, sa)
    return None


def reconcile_deployment(kube, deployment):
    template = deployment["spec"].get("template") or {}
    revision = _hash(template)
    want = int(deployment["spec"].get("replicas", 1))
    pods = [p for p in _owned(kube, deployment) if not p["metadata"].get("deletionTimestamp")]
    for pod in pods:
        if pod["metadata"]["labels"].get("pod-template-hash") != revision:
            terminate(kube, pod)
    pods = [p for p in pods if p["metadata"]["labels"].get("pod-template-hash") == revision]
    for pod in sorted(pods, key=lambda p: p["metadata"]["creationTimestamp"], reverse=True)[:max(0, len(pods) - want)]:
        terminate(kube, pod)
        pods.remove(pod)
    failure = _missing_service_account(kube, deployment, template)
    kube.state[("deployment-failure", deployment["metadata"]["uid"])] = failure
    if failure:
        return
    for _index in range(want - len(pods)):
        name = "%s-%s-%s" % (deployment["metadata"]["name"], revision[:9], _hash(time.time_ns())[:5])
        new_pod(kube, deployment, template, name, {"pod-template-hash": revision})


def deployment_status(kube, deployment):
    pods = [p for p in _owned(kube, deployment) if not p["metadata"].get("deletionTimestamp")]
    ready = [p for p in pods if _pod_ready(p)]
    want = int(deployment["spec"].get("replicas", 1))
    available = len(ready) >= want
    old = {c["type"]: c for c in (deployment.get("status") or {}).get("conditions", [])}

    def condition(kind, status, reason, message):
        previous = old.get(kind)
        since = previous["lastTransitionTime"] if previous and previous["status"] == status else now()
        return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since}
    conditions = [condition("Available", str(available), "MinimumReplicasAvailable" if available else
                            "MinimumReplicasUnavailable", "Deployment has minimum availability." if available else
                            "Deployment does not have minimum availability.")]
    failure = kube.state.get(("deployment-failure", deployment["metadata"]["uid"]))
    if failure:
        conditions.append(condition("ReplicaFailure", "True", "FailedCreate", failure))
    status = {"observedGeneration": deployment["metadata"]["generation"], "conditions": conditions}
    if pods:
        status.update(replicas=len(pods), updatedReplicas=len(pods), readyReplicas=len(ready),
                      availableReplicas=len(ready))
        if len(pods) > len(ready):
            status["unavailableReplicas"] = len(pods) - len(ready)
    for key in ("readyReplicas", "availableReplicas"):
        if not status.get(key):
            status.pop(key, None)
    kube.set_status(deployment, status)


# -- jobs -------------------------------------------------------------------------------------
def _job_of(kube, pod):
    for ref in pod["metadata"].get("ownerReferences", []):
        if ref.get("kind") == "Job":
            return kube.get("batch", "jobs", pod["metadata"]["namespace"], ref["name"])
    return None


def reconcile_job(kube, job):
    state = kube.state.setdefault(("job", job["metadata"]["uid"]), {"failed": 0, "succeeded": 0})
    if state.get("done"):
        return
    pods = _owned(kube, job)
    if any(p["status"].get("phase") == "Succeeded" for p in pods):
        state.update(done="Complete")
        return
    failed = sum(1 for p in pods if p["status"].get("phase") == "Failed")
    state["failed"] = failed
    if failed > int(job["spec"].get("backoffLimit", 6)):
        state.update(done="Failed")
        return
    template = job["spec"].get("template") or {}
    failure = _missing_service_account(kube, job, template)
    state["failure"] = failure
    if failure or any(p["status"].get("phase") not in ("Succeeded", "Failed") for p in pods):
        return
    name = "%s-%s" % (job["metadata"]["name"], _hash(time.time_ns())[:5])
    new_pod(kube, job, template, name, {"job-name": job["metadata"]["name"],
                                        "batch.kubernetes.io/job-name": job["metadata"]["name"]})


def job_status(kube, job):
    state = kube.state.get(("job", job["metadata"]["uid"]), {})
    pods = _owned(kube, job)
    status = {"startTime": (job.get("status") or {}).get("startTime") or now()}
    active = sum(1 for p in pods if p["status"].get("phase") in ("Pending", "Running"))
    if active:
        status["active"] = active
    if state.get("failed"):
        status["failed"] = state["failed"]
    old = job.get("status") or {}
    if state.get("done") == "Complete":
        status["succeeded"] = 1
        status["completionTime"] = old.get("completionTime") or now()
        status["conditions"] = [{"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
                                {"type": "Complete", "status": "True", "reason": "CompletionsReached"}]
    elif state.get("done") == "Failed":
        status["conditions"] = [{"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                 "message": "Job has reached the specified backoff limit"}]
    if state.get("failure"):
        status.setdefault("conditions", []).append({"type": "FailedCreate", "status": "True", "reason": "FailedCreate",
                                                    "message": state["failure"]})
    kube.set_status(job, status)


def _env(kube, pod, container):
    out = {}
    for env in container.get("env") or []:
        if "value" in env:
            out[env["name"]] = env["value"]
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            import base64  # pylint: disable=import-outside-toplevel
            secret = kube.get("", "secrets", pod["metadata"]["namespace"], ref["name"]) or {}
            if ref["key"] in (secret.get("data") or {}):
                out[env["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            elif ref["key"] in (secret.get("stringData") or {}):
                out[env["name"]] = secret["stringData"][ref["key"]]
    return out


def finish_job_pod(kube, job, pod):  # pylint: disable=unused-argument
    """The pod ran: download when it is a downloader, else succeed."""
    logs = kube.logs.setdefault((pod["metadata"]["namespace"], pod["metadata"]["name"]), [])
    ok = True
    for container in pod["spec"].get("containers", []):
        env = _env(kube, pod, container)
        if "HF_MODEL_ID" in env:
            ok = download(kube, pod, container, env, logs) and ok
    phase = "Succeeded" if ok else "Failed"
    kube.set_status(pod, dict(pod["status"], phase=phase, containerStatuses=[
        {"name": c["name"], "image": c.get("image"), "ready": False, "started": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": 0 if ok else 1, "reason": "Completed" if ok else "Error",
                                  "finishedAt": now()}}} for c in pod["spec"].get("containers", [])]))


def download(kube, pod, container, env, logs):
    """The emulated ``snapshot_download`` into a GCS FUSE mount."""
    model, model_dir, marker = env.get("HF_MODEL_ID", ""), env.get("MODEL_DIR", ""), env.get("COMPLETE_MARKER", "")
    logs.append("Downloading %s to %s" % (model, model_dir))
    mount = next((m for m in container.get("volumeMounts") or [] if model_dir.startswith(m["mountPath"])), None)
    volume = next((v for v in pod["spec"].get("volumes") or [] if mount and v["name"] == mount["name"]), None)
    if volume is None or (volume.get("csi") or {}).get("driver") != "gcsfuse.csi.storage.gke.io":
        logs.append("ERROR: %s is not on a GCS FUSE volume; the weights would be lost with the pod" % model_dir)
        return False
    if mount.get("readOnly") or volume["csi"].get("readOnly"):
        logs.append("OSError: [Errno 30] Read-only file system: '%s'" % model_dir)
        return False
    if model not in HF_MODELS:
        logs.append("huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error. Repository Not Found for url: "
                    "https://huggingface.co/api/models/%s/revision/main." % model)
        return False
    gated, shards, size = HF_MODELS[model]
    token = env.get("HF_TOKEN", "")
    if gated and not token.startswith("hf_"):
        logs.append("huggingface_hub.errors.GatedRepoError: 401 Client Error. Cannot access gated repo for url "
                    "https://huggingface.co/api/models/%s. Access to model %s is restricted. You must have access "
                    "to it and be authenticated to access it." % (model, model))
        return False
    attrs = volume["csi"].get("volumeAttributes") or {}
    bucket = attrs.get("bucketName", "")
    ns, ksa = pod["metadata"]["namespace"], pod["spec"]["serviceAccountName"]
    if not bucket_roles(kube, bucket, ns, ksa) & WRITE_ROLES:
        logs.append("OSError: [Errno 13] Permission denied: storage.objects.create on bucket %s is denied for %s"
                    % (bucket, _principal(kube, ns, ksa)))
        return False
    prefix = _only_dir(attrs)
    rel = os.path.relpath(model_dir, mount["mountPath"]).strip("./")
    base = prefix + (rel + "/" if rel else "")
    files = [("config.json", 900), ("generation_config.json", 200), ("tokenizer.json", 33000000),
             ("tokenizer_config.json", 1200000), ("model.safetensors.index.json", 90000)]
    files += [("model-%05d-of-%05d.safetensors" % (i + 1, shards), int(size * 2 ** 30)) for i in range(shards)]
    for name, nbytes in files + [(marker, 64)] if marker else files:
        write_object(kube.emu, bucket, base + name, nbytes)
    logs.append("Wrote %d files to gs://%s/%s" % (len(files), bucket, base))
    if marker:
        logs.append("Marked complete: gs://%s/%s%s" % (bucket, base, marker))
    logs.append("Download complete")
    return True


def write_object(emu, bucket, name, size):
    key = "storage:o/%s/%s" % (bucket, name)
    generation = str(time.time_ns() // 1000)
    emu.store[key] = {"kind": "storage#object", "id": "%s/%s/%s" % (bucket, name, generation), "name": name,
                      "bucket": bucket, "size": str(size), "generation": generation, "metageneration": "1",
                      "contentType": "application/octet-stream", "timeCreated": now(), "updated": now(),
                      "storageClass": "STANDARD"}


# -- HPA --------------------------------------------------------------------------------------
def hpa_status(kube, hpa):
    spec = hpa["spec"]
    target = spec.get("scaleTargetRef", {})
    deployment = kube.get("apps", "deployments", hpa["metadata"]["namespace"], target.get("name", ""))
    current = int((deployment or {}).get("status", {}).get("replicas", 0))
    desired = min(max(current, int(spec.get("minReplicas", 1))), int(spec["maxReplicas"]))
    custom = [m for m in spec.get("metrics") or [] if m.get("type") in ("Pods", "Object")]
    adapter = kube.get("apiregistration.k8s.io", "apiservices", "", "v1beta1.custom.metrics.k8s.io")
    metric = custom[0].get("pods", {}).get("metric", {}).get("name") if custom else None
    written = not custom or deployment is None or _metrics_written(kube, deployment)
    active = deployment is not None and (not custom or adapter is not None) and written
    reason = "ValidMetricFound" if active else ("FailedGetScale" if deployment is None else "FailedGetPodsMetric")
    message = "the HPA was able to successfully calculate a replica count" if active else (
        "deployments/scale.apps \"%s\" not found" % target.get("name") if deployment is None else
        "unable to get metric %s: no custom metrics API (custom.metrics.k8s.io) registered" % metric
        if adapter is None else
        "unable to get metric %s: unable to fetch metrics from custom metrics API: no metrics returned from "
        "custom metrics API" % metric)
    kube.set_status(hpa, {"currentReplicas": current, "desiredReplicas": desired, "conditions": [
        {"type": "AbleToScale", "status": str(deployment is not None), "reason": "SucceededGetScale"},
        {"type": "ScalingActive", "status": str(active), "reason": reason, "message": message}]})


def node_service_account(kube, pool_name):
    """The email the nodes of a pool run as (``default``: the project's Compute Engine default account)."""
    for pool in kube.cluster.get("nodePools", []):
        if pool["name"] == pool_name:
            account = pool.get("config", {}).get("serviceAccount") or "default"
            if account == "default":
                number = kube.emu.projects.get(kube.project, {}).get("number", "0")
                account = "%s-compute@developer.gserviceaccount.com" % number
            return account
    return None


def _metrics_written(kube, deployment):
    """Whether the Deployment's pods' metrics reach Cloud Monitoring: the service account of a node that runs
    one of them holds a role with monitoring.timeSeries.create on the project."""
    policy = kube.emu.get("cloudresourcemanager:iam/" + kube.project) or {}
    writers = {m for b in policy.get("bindings", []) if b.get("role") in METRIC_WRITER_ROLES
               for m in b.get("members", [])}
    for pod in _owned(kube, deployment):
        node = kube.get("", "nodes", "", pod.get("spec", {}).get("nodeName") or "")
        pool = ((node or {}).get("metadata", {}).get("labels") or {}).get("cloud.google.com/gke-nodepool")
        account = node_service_account(kube, pool) if pool else None
        if account and "serviceAccount:" + account in writers:
            return True
    return False


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
    """A firewall rule a Google controller creates on its own (and recreates while it runs)."""
    key = "compute:projects/%s/global/firewalls/%s" % (project, name)
    net = "projects/%s/global/networks/%s" % (project, network)
    if emu.get(key) is not None or emu.get("compute:" + net) is None:
        return
    emu.store[key] = {
        "kind": "compute#firewall", "id": emu.next_id(), "name": name, "creationTimestamp": now(),
        "description": '{"kubernetes.io/cluster-id":"emulated","managed-by":"gke-multi-cluster-controller"}',
        "network": "https://www.googleapis.com/compute/v1/" + net, "direction": "INGRESS", "priority": 1000,
        "sourceRanges": ranges, "allowed": [{"IPProtocol": "tcp", "ports": ports}], "disabled": False,
        "selfLink": "https://www.googleapis.com/compute/v1/projects/%s/global/firewalls/%s" % (project, name)}


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
