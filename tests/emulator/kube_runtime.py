"""What a Job's container does once it runs: a container that declares HF_MODEL_ID, MODEL_DIR and
COMPLETE_MARKER behaves as a Hugging Face download into the FUSE-mounted bucket (a token for gated models,
write permission checked) and logs what it did.
"""

import base64
import os

from .isolation import internet_egress
from .kube import now
from .kube_common import WRITE_ROLES, _only_dir, _principal, bucket_roles
from .kube_scripts import advance, program
from .storage import write_object


# What the emulated Hugging Face hub holds: model id -> (gated, number of weight shards, shard GiB).
HF_MODELS = {
    "google/gemma-3-27b-it": (True, 12, 4.6),
    "google/gemma-3-1b-it": (True, 1, 2.0),
    "meta-llama/Llama-3.1-8B-Instruct": (True, 4, 4.0),
    "Qwen/Qwen3-0.6B": (False, 1, 1.4),
}
# The revisions the emulated hub has of every model besides its default branch (test data, not real commits):
# snapshot_download(revision=...) of any other fails as huggingface_hub does, with RevisionNotFoundError (404).
HF_REVISIONS = {"main", "emulated-v2", "0123456789abcdef0123456789abcdef01234567"}


# -- jobs -------------------------------------------------------------------------------------
def _job_of(kube, pod):
    for ref in pod["metadata"].get("ownerReferences", []):
        if ref.get("kind") == "Job":
            return kube.get("batch", "jobs", pod["metadata"]["namespace"], ref["name"])
    return None


def _env(kube, pod, container):
    out = {}
    for env in container.get("env") or []:
        if "value" in env:
            out[env["name"]] = env["value"]
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if ref:
            secret = kube.get("", "secrets", pod["metadata"]["namespace"], ref["name"]) or {}
            if ref["key"] in (secret.get("data") or {}):
                out[env["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            elif ref["key"] in (secret.get("stringData") or {}):
                out[env["name"]] = secret["stringData"][ref["key"]]
    return out


def finish_job_pod(kube, job, pod):  # pylint: disable=unused-argument
    """The pod ran: a Python program of a ConfigMap runs until it exits (kube_scripts.py), a downloader downloads,
    anything else succeeds."""
    logs = kube.logs.setdefault((pod["metadata"]["namespace"], pod["metadata"]["name"]), [])
    ok = True
    spec = program(kube, pod)
    if spec is not None:
        code = advance(kube, pod, spec, logs)
        if code is None:
            started = pod["status"].get("startTime") or now()
            kube.set_status(pod, dict(pod["status"], phase="Running", startTime=started, containerStatuses=[
                {"name": c["name"], "image": c.get("image"), "ready": True, "started": True, "restartCount": 0,
                 "state": {"running": {"startedAt": started}}} for c in pod["spec"].get("containers", [])]))
            return
        ok = code == 0
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
    logs.append("Downloading %s to %s" % (model, model_dir))  # revision: HF_REVISION, the default branch if empty
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
    node = kube.get("", "nodes", "", pod["spec"].get("nodeName", "")) or {}
    pool = (node.get("metadata", {}).get("labels") or {}).get("cloud.google.com/gke-nodepool", "")
    if not internet_egress(kube.emu, kube.project, kube.cluster, pool):
        logs.append("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='huggingface.co', port=443): Max "
                    "retries exceeded with url: /api/models/%s/revision/main (Caused by ConnectTimeoutError: "
                    "Connection to huggingface.co timed out. (connect timeout=10)) [node pool %s has private nodes and "
                    "region has no Cloud NAT for its subnet]" % (model, pool))
        return False
    revision = env.get("HF_REVISION") or "main"
    if revision not in HF_REVISIONS:
        logs.append("huggingface_hub.errors.RevisionNotFoundError: 404 Client Error. Revision Not Found for url: "
                    "https://huggingface.co/api/models/%s/revision/%s. Invalid rev id: %s" % (model, revision, revision))
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
