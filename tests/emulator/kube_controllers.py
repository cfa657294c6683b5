"""The emulated clusters' controllers, registered with core and run before and after every Kubernetes request (one
pass over that request's cluster, then what spans clusters) and by the data plane's loop every 50 ms (one pass over
every cluster in a fixed order), and the hook that takes over deletions (pods terminate gracefully;
a programmed multi-cluster Gateway stays, GKE's finalizer, until its load balancer is detached).

Each controller is small and says what it checks, because the collection is tested against them:
- kube_pods: what happens when a pod is created (nodes, scheduling, the kubelet's checks, readiness);
- kube_runtime: what a Job's container does once it runs (the Hugging Face download);
- kube_workloads: Deployments, Jobs and HPAs;
- kube_fleet: pool exports and imports, multi-cluster Gateways and routes, GKE's own firewall rules.
"""

import time

from .core import controller, deletion_hook
from .kube import now
from .kube_common import _delay, terminate
from .kube_fleet import reconcile_fleet
from .kube_pods import advance_pod, reconcile_nodes
from .kube_workloads import deployment_status, hpa_status, job_status, reconcile_deployment, reconcile_job


@controller
def reconcile(emu, only=None):
    for kube in [only] if only is not None else list(getattr(emu, "kube", {}).values()):
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


@deletion_hook
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
