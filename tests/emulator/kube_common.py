"""Helpers the emulated clusters' controllers share: latencies, names, Workload Identity principals and the
bucket roles they hold, and what a pod's main container is.
"""

import hashlib
import json
import time

from .kube import now


READ_ROLES = {"roles/storage.objectViewer", "roles/storage.objectUser", "roles/storage.objectAdmin",
              "roles/storage.admin", "roles/storage.legacyObjectReader"}


WRITE_ROLES = {"roles/storage.objectUser", "roles/storage.objectAdmin", "roles/storage.admin",
               "roles/storage.objectCreator"}


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


def _principal(kube, namespace, ksa):
    number = kube.emu.projects.get(kube.project, {}).get("number", "0")
    return "principal://iam.googleapis.com/projects/%s/locations/global/workloadIdentityPools/%s.svc.id.goog/" \
           "subject/ns/%s/sa/%s" % (number, kube.project, namespace, ksa)


def bucket_roles(kube, bucket, namespace, ksa):
    policy = kube.emu.get("storage:iam/" + bucket) or {}
    member = _principal(kube, namespace, ksa)
    return {b["role"] for b in policy.get("bindings", []) if member in b.get("members", [])}


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


def _owned(kube, owner, group="", plural="pods"):
    uid = owner["metadata"]["uid"]
    return [o for o in kube.list(group, plural, owner["metadata"]["namespace"])
            if any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences", []))]


def _pod_ready(pod):
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions", []))
