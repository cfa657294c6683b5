"""The workload controllers of an emulated cluster: Deployments (pods owned directly, no ReplicaSets), Jobs
(one pod at a time up to backoffLimit) and HPAs (whether the custom metrics API exists and whether the
metrics could leave the nodes).
"""

import time

from .kube import now
from .kube_common import _hash, _owned, _pod_ready, terminate
from .kube_pods import new_pod


# Roles that hold monitoring.timeSeries.create, which managed Prometheus' collectors on a node need to write
# the workload's metrics with the node's service account (IAM roles reference: Monitoring roles, basic roles;
# GKE: "Use least privilege service accounts for your nodes", roles/container.defaultNodeServiceAccount).
# Seed 003 step 6 names roles/monitoring.metricWriter for the nodes.
METRIC_WRITER_ROLES = {"roles/monitoring.metricWriter", "roles/monitoring.editor", "roles/monitoring.admin",
                       "roles/container.defaultNodeServiceAccount", "roles/editor", "roles/owner"}


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
