"""What happens when a pod is created in an emulated cluster: nodes from the cluster's node pools, scheduling
(node selectors, extended resources, DRA claims), the kubelet's checks before a container starts (service
account, secrets, GCS FUSE and its Workload Identity grant, the image's argv) and readiness.
"""

import json
import time

from . import images
from .kube import now
from .kube_common import READ_ROLES, _delay, _hash, _main_container, _only_dir, _principal, bucket_roles
from .kube_runtime import _job_of, finish_job_pod
from .kube_scripts import program, stop as stop_program


TPU_ACCELERATORS = {"ct6e": "tpu-v6e-slice", "ct5lp": "tpu-v5-lite-podslice", "ct5p": "tpu-v5p-slice"}


TPU_TOPOLOGY = {1: "1x1", 4: "2x2", 8: "2x4"}


DRA_LABEL = "cloud.google.com/gke-networking-dra-driver"


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


def _is_model_server(pod):
    return any(v.get("csi", {}).get("driver") == "gcsfuse.csi.storage.gke.io" for v in pod["spec"].get("volumes") or [])


def advance_pod(kube, pod):
    if pod["metadata"].get("deletionTimestamp"):
        stop_program(kube, pod)
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
    # a program's process starts with its container (Running); other Job containers "run" until ready_at
    if job is not None and (ready or program(kube, pod) is not None):
        return finish_job_pod(kube, job, pod)
    started = pod["status"].get("startTime") or now()
    status = dict(pod["status"], phase="Running", containerStatuses=[
        {"name": c["name"], "image": c.get("image"), "ready": ready, "started": True, "restartCount": 0,
         "state": {"running": {"startedAt": started}}} for c in containers])
    status["conditions"] = [{"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
                            {"type": "ContainersReady", "status": str(ready)}, {"type": "Ready", "status": str(ready)}]
    kube.set_status(pod, status)
