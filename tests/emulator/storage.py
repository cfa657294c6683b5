"""Cloud Storage JSON API v1: buckets (uniform access, public access prevention), their IAM policies, and the
objects the emulated download Job wrote.
"""

import re
import time

from .core import ApiError, handler, now_rfc3339
from .iam import check_policy


BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")


# -- Cloud Storage ----------------------------------------------------------------------------
def _bucket(ctx):
    name = ctx.param("bucket")
    bucket = ctx.emu.get("storage:b/" + name)
    if bucket is None:
        raise ApiError(404, "The specified bucket does not exist.", reason="notFound")
    return name, bucket


@handler("storage.buckets.insert")
def bucket_insert(ctx):
    body = dict(ctx.body)
    name = body.get("name", "")
    if not BUCKET_RE.match(name) or ".." in name or name.startswith("goog"):
        raise ApiError(400, "Invalid bucket name: '%s'" % name, reason="invalid")
    if ctx.emu.get("storage:b/" + name):
        raise ApiError(409, "Your previous request to create the named bucket succeeded and you already own it.",
                       reason="conflict")
    project = ctx.emu.project(ctx.param("project"))
    ubla = body.get("iamConfiguration", {}).get("uniformBucketLevelAccess", {}).get("enabled", False)
    body.update({
        "kind": "storage#bucket", "id": name, "selfLink": "https://www.googleapis.com/storage/v1/b/" + name,
        "projectNumber": project["number"], "location": body.get("location", "US").upper(),
        "locationType": "multi-region" if body.get("location", "US").upper() in ("US", "EU", "ASIA") else "region",
        "storageClass": body.get("storageClass", "STANDARD"), "metageneration": "1", "etag": ctx.emu.etag(),
        "timeCreated": now_rfc3339(), "updated": now_rfc3339(),
    })
    body.setdefault("iamConfiguration", {})
    body["iamConfiguration"]["uniformBucketLevelAccess"] = {"enabled": ubla}
    body["iamConfiguration"].setdefault("publicAccessPrevention", "inherited")
    ctx.emu.store["storage:b/" + name] = body
    number = project["number"]
    bindings = [
        {"role": "roles/storage.legacyBucketOwner", "members": ["projectEditor:" + number, "projectOwner:" + number]},
        {"role": "roles/storage.legacyBucketReader", "members": ["projectViewer:" + number]},
    ]
    ctx.emu.store["storage:iam/" + name] = {"kind": "storage#policy", "resourceId": "projects/_/buckets/" + name,
                                            "version": 1, "etag": "CAE=", "bindings": bindings}
    return 200, body


@handler("storage.buckets.get")
def bucket_get(ctx):
    return 200, _bucket(ctx)[1]


@handler("storage.buckets.patch")
def bucket_patch(ctx):
    name, bucket = _bucket(ctx)
    if "location" in ctx.body and ctx.body["location"].upper() != bucket["location"]:
        raise ApiError(400, "Cannot change the location of a bucket.", reason="invalid")
    for key, value in ctx.body.items():
        if isinstance(value, dict) and isinstance(bucket.get(key), dict):
            bucket[key] = _merge(bucket[key], value)
        elif value is None:
            bucket.pop(key, None)
        else:
            bucket[key] = value
    bucket["metageneration"] = str(int(bucket["metageneration"]) + 1)
    bucket["updated"] = now_rfc3339()
    ctx.emu.store["storage:b/" + name] = bucket
    return 200, bucket


def _merge(old, new):
    out = dict(old)
    for key, value in new.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


@handler("storage.buckets.delete")
def bucket_delete(ctx):
    name = _bucket(ctx)[0]
    if ctx.emu.items("storage:o/%s/" % name):
        raise ApiError(409, "The bucket you tried to delete is not empty.", reason="conflict")
    ctx.emu.store.pop("storage:b/" + name)
    ctx.emu.store.pop("storage:iam/" + name, None)
    return 204, b""


@handler("storage.buckets.getIamPolicy")
def bucket_get_iam(ctx):
    name = _bucket(ctx)[0]
    return 200, ctx.emu.get("storage:iam/" + name)


@handler("storage.buckets.setIamPolicy")
def bucket_set_iam(ctx):
    name = _bucket(ctx)[0]
    current = ctx.emu.get("storage:iam/" + name)
    if ctx.body.get("etag") and ctx.body["etag"] != current["etag"]:
        raise ApiError(412, "Precondition Failed", reason="conditionNotMet")
    check_policy(ctx.body, ctx.emu)
    policy = dict(current, bindings=[b for b in ctx.body.get("bindings", []) if b.get("members")],
                  version=ctx.body.get("version", 1), etag=ctx.emu.etag())
    ctx.emu.store["storage:iam/" + name] = policy
    return 200, policy


@handler("storage.objects.list")
def objects_list(ctx):
    name = _bucket(ctx)[0]
    prefix = ctx.param("prefix") or ""
    items = [o for k, o in ctx.emu.items("storage:o/%s/" % name) if o["name"].startswith(prefix)]
    return 200, {"kind": "storage#objects", "items": items}


@handler("storage.objects.get")
def objects_get(ctx):
    name = _bucket(ctx)[0]
    obj = ctx.emu.get("storage:o/%s/%s" % (name, ctx.param("object")))
    if obj is None:
        raise ApiError(404, "No such object: %s/%s" % (name, ctx.param("object")), reason="notFound")
    return 200, obj


@handler("storage.objects.delete")
def objects_delete(ctx):
    name = _bucket(ctx)[0]
    if ctx.emu.store.pop("storage:o/%s/%s" % (name, ctx.param("object")), None) is None:
        raise ApiError(404, "No such object: %s/%s" % (name, ctx.param("object")), reason="notFound")
    return 204, b""


def write_object(emu, bucket, name, size):
    """An object written into ``bucket`` through a pod's GCS FUSE mount (the emulated download Job)."""
    key = "storage:o/%s/%s" % (bucket, name)
    generation = str(time.time_ns() // 1000)
    emu.store[key] = {"kind": "storage#object", "id": "%s/%s/%s" % (bucket, name, generation), "name": name,
                      "bucket": bucket, "size": str(size), "generation": generation, "metageneration": "1",
                      "contentType": "application/octet-stream", "timeCreated": now_rfc3339(),
                      "updated": now_rfc3339(), "storageClass": "STANDARD"}
