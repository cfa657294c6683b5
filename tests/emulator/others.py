"""Cloud Storage (buckets, bucket IAM, objects), Resource Manager v3 (projects, project IAM),
Service Usage v1 (services, operations), IAM v1 (a project's service accounts) and Cloud Quotas v1
(quota infos of compute.googleapis.com)."""

import hashlib
import re

from .core import ApiError, handler, now_rfc3339

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
MEMBER_RE = re.compile(
    r"^(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount|deleted:group):.+$"
    r"|^principal(Set)?://iam\.googleapis\.com/.+$|^(allUsers|allAuthenticatedUsers)$"
    r"|^(projectOwner|projectEditor|projectViewer):.+$"
)
ROLE_RE = re.compile(r"^(roles/[A-Za-z0-9_.]+|projects/[^/]+/roles/[A-Za-z0-9_.]+|organizations/\d+/roles/[A-Za-z0-9_.]+)$")
# Services the emulated Service Usage knows (a name outside this list is "not found", as on Google).
KNOWN_SERVICES = {
    "compute.googleapis.com", "container.googleapis.com", "storage.googleapis.com", "storage-api.googleapis.com",
    "cloudresourcemanager.googleapis.com", "serviceusage.googleapis.com", "iam.googleapis.com",
    "iamcredentials.googleapis.com", "gkehub.googleapis.com", "multiclusterservicediscovery.googleapis.com",
    "multiclusteringress.googleapis.com", "trafficdirector.googleapis.com", "autoscaling.googleapis.com",
    "monitoring.googleapis.com", "logging.googleapis.com", "networkservices.googleapis.com",
    "dns.googleapis.com", "gkeconnect.googleapis.com", "connectgateway.googleapis.com", "tpu.googleapis.com",
    "cloudquotas.googleapis.com",
}


# A Google-managed service agent, service-PROJECT_NUMBER@gcp-sa-SERVICE.iam.gserviceaccount.com
# (https://cloud.google.com/iam/docs/service-agents). It exists once Service Usage generated its identity
# (v1beta1 services.generateServiceIdentity); the emulator does not create it when the API is enabled,
# which Google does at some point afterwards, with no promise of when. IAM refuses a policy naming a service
# account that does not exist ("Service account ... does not exist", HTTP 400, as issue threads of
# GoogleCloudPlatform/generative-ai #944 and hashicorp/terraform-provider-google #9969 show it).
AGENT_RE = re.compile(r"^serviceAccount:(service-(\d+)@gcp-sa-[a-z0-9-]+\.iam\.gserviceaccount\.com)$")
# A user-managed service account, ACCOUNT@PROJECT.iam.gserviceaccount.com: it exists once IAM created it
# (projects.serviceAccounts.create); a policy naming one that does not exist is refused the same way.
USER_SA_RE = re.compile(r"^serviceAccount:([^@\s]+@([^.@\s]+)\.iam\.gserviceaccount\.com)$")


def service_account_exists(emu, email):
    """Whether a service account of an emulated project exists (accounts of unknown projects are taken on
    trust; the Compute Engine default account ``NUMBER-compute@developer...`` always exists, and so does the
    account of a key the emulator issued)."""
    match = USER_SA_RE.match("serviceAccount:" + email)
    if match and match.group(2) in emu.projects and email not in emu.keys:
        return email in emu.projects[match.group(2)].get("service_accounts", {})
    return True


def check_policy(policy, emu=None):
    agents = set()
    if emu is not None:
        for project in emu.projects.values():
            agents |= project.get("agents", set())
    for binding in policy.get("bindings", []):
        if not ROLE_RE.match(binding.get("role", "")):
            raise ApiError(400, "Role %s is not supported for this resource." % binding.get("role"))
        for member in binding.get("members", []):
            if not MEMBER_RE.match(member):
                raise ApiError(400, "Invalid principal (member) '%s' in the policy binding." % member)
            agent = AGENT_RE.match(member)
            if emu is not None and agent and agent.group(1) not in agents:
                raise ApiError(400, "Service account %s does not exist." % agent.group(1))
            if emu is not None and member.startswith("serviceAccount:") and \
                    not service_account_exists(emu, member.split(":", 1)[1]):
                raise ApiError(400, "Service account %s does not exist." % member.split(":", 1)[1])


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


# -- Resource Manager v3 ----------------------------------------------------------------------
def _project_json(project):
    return {"name": "projects/" + project["number"], "projectId": project["projectId"], "state": "ACTIVE",
            "displayName": project["projectId"], "createTime": "2026-01-01T00:00:00Z", "etag": "W/\"1\""}


@handler("cloudresourcemanager.projects.get")
def project_get(ctx):
    return 200, _project_json(ctx.emu.project(ctx.param("projectsId")))


@handler("cloudresourcemanager.projects.getIamPolicy")
def project_get_iam(ctx):
    project = ctx.emu.project(ctx.param("projectsId"))
    return 200, ctx.emu.get("cloudresourcemanager:iam/" + project["projectId"])


@handler("cloudresourcemanager.projects.testIamPermissions")
def project_test_permissions(ctx):
    """The caller holds every permission except those a test denies (``POST /_emulator/config``
    ``{"denied_permissions": [...]}``); the emulator has no role-to-permission table."""
    ctx.emu.project(ctx.param("projectsId"))
    asked = ctx.body.get("permissions") or []
    return 200, {"permissions": [perm for perm in asked if perm not in ctx.emu.denied_permissions]}


@handler("cloudresourcemanager.projects.setIamPolicy")
def project_set_iam(ctx):
    project = ctx.emu.project(ctx.param("projectsId"))
    key = "cloudresourcemanager:iam/" + project["projectId"]
    policy = ctx.body.get("policy", {})
    if policy.get("etag") and policy["etag"] != ctx.emu.get(key)["etag"]:
        raise ApiError(409, "There were concurrent policy changes. Please retry the whole read-modify-write "
                            "with exponential backoff.", status="ABORTED")
    check_policy(policy, ctx.emu)
    stored = {"version": policy.get("version", 1), "etag": ctx.emu.etag(),
              "bindings": [b for b in policy.get("bindings", []) if b.get("members")]}
    ctx.emu.store[key] = stored
    return 200, stored


# -- Service Usage v1 -------------------------------------------------------------------------
def _service_json(project, service):
    state = "ENABLED" if service in project["services"] else "DISABLED"
    return {"name": "projects/%s/services/%s" % (project["number"], service), "parent": "projects/" + project["number"],
            "config": {"name": service, "title": service.split(".")[0]}, "state": state}


def _known(project, services):
    unknown = [s for s in services if s not in KNOWN_SERVICES]
    if unknown:
        raise ApiError(403, "Not found or permission denied for service(s): %s." % ", ".join(unknown),
                       reason="SERVICE_CONFIG_NOT_FOUND_OR_PERMISSION_DENIED",
                       metadata={"services": ",".join(unknown)})
    return project


def _lro(ctx, response_type, on_done):
    def done():
        return dict(on_done(), **{"@type": "type.googleapis.com/google.api.serviceusage.v1." + response_type})
    op = ctx.emu.start_operation("serviceusage", ctx.method.id, done, prefix="operations/acf.p2-")
    return 200, {"name": op.name, "done": False}


@handler("serviceusage.services.get")
def service_get(ctx):
    project = ctx.emu.project(ctx.param("v1Id1"))
    return 200, _service_json(project, ctx.param("servicesId"))


@handler("serviceusage.services.batchGet")
def service_batch_get(ctx):
    project = ctx.emu.project(ctx.param("v1Id1"))
    names = ctx.query.get("names", "")
    services = [n.rsplit("/", 1)[1] for n in (names if isinstance(names, list) else [names]) if n]
    return 200, {"services": [_service_json(project, s) for s in services]}


@handler("serviceusage.services.enable")
def service_enable(ctx):
    project = _known(ctx.emu.project(ctx.param("v1Id1")), [ctx.param("servicesId")])
    service = ctx.param("servicesId")

    def done():
        project["services"].add(service)
        return {"service": _service_json(project, service)}
    return _lro(ctx, "EnableServiceResponse", done)


@handler("serviceusage.services.batchEnable")
def service_batch_enable(ctx):
    services = ctx.body.get("serviceIds", [])
    if not services or len(services) > 20:
        raise ApiError(400, "serviceIds must name between 1 and 20 services.")
    project = _known(ctx.emu.project(ctx.param("v1Id1")), services)

    def done():
        project["services"].update(services)
        return {"services": [_service_json(project, s) for s in services]}
    return _lro(ctx, "BatchEnableServicesResponse", done)


@handler("serviceusage.services.disable")
def service_disable(ctx):
    project = _known(ctx.emu.project(ctx.param("v1Id1")), [ctx.param("servicesId")])
    service = ctx.param("servicesId")

    def done():
        project["services"].discard(service)
        return {"service": _service_json(project, service)}
    return _lro(ctx, "DisableServiceResponse", done)


@handler("serviceusage.services.generateServiceIdentity")
def service_identity(ctx):
    """v1beta1: the service agent of a service for the project (created if it is not there yet)."""
    project = ctx.project()
    service = ctx.param("servicesId")
    _known(project, [service])
    email = "service-%s@gcp-sa-%s.iam.gserviceaccount.com" % (project["number"], service.split(".")[0])
    agents = project.setdefault("agents", set())

    def done():
        agents.add(email)
        return {"@type": "type.googleapis.com/google.api.serviceusage.v1beta1.ServiceIdentity", "email": email,
                "uniqueId": str(int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10 ** 21)}
    op = ctx.emu.start_operation("serviceusage", ctx.method.id, done, prefix="operations/acf.p2-")
    return 200, {"name": op.name, "done": False}


@handler("serviceusage.operations.get")
def service_operation(ctx):
    name = "operations/" + ctx.param("operationsId")
    op = ctx.emu.operations.get(name)
    if op is None:
        raise ApiError(404, "Operation %s not found." % name)
    return 200, lro_json(op)


def lro_json(op):
    """A google.longrunning.Operation."""
    body = {"name": op.name, "done": op.done}
    if op.done and op.error:
        body["error"] = {"code": 9, "message": op.error["message"]}
    elif op.done:
        body["response"] = op.response
    return body


# -- IAM v1: service accounts -----------------------------------------------------------------
# accountId: 6-30 characters, [a-z]([-a-z0-9]*[a-z0-9]) (CreateServiceAccountRequest in iam.v1.json);
# only displayName and description are user-assignable (the same document).
ACCOUNT_ID_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")


def _account(ctx):
    """The service account named by the path: an email or a unique id, in a project or in ``-``."""
    ref = ctx.param("serviceAccountsId")
    for project in ctx.emu.projects.values():
        for email, account in project.get("service_accounts", {}).items():
            if ref in (email, account["uniqueId"]):
                return project, email, account
    raise ApiError(404, "Unknown service account", status="NOT_FOUND")


@handler("iam.projects.serviceAccounts.create")
def service_account_create(ctx):
    project = ctx.emu.project(ctx.param("projectsId"))
    account_id = ctx.body.get("accountId", "")
    if not (6 <= len(account_id) <= 30 and ACCOUNT_ID_RE.match(account_id)):
        raise ApiError(400, "Invalid account id: %s. It must be 6-30 characters long and match "
                            "[a-z]([-a-z0-9]*[a-z0-9])." % account_id, status="INVALID_ARGUMENT")
    email = "%s@%s.iam.gserviceaccount.com" % (account_id, project["projectId"])
    accounts = project.setdefault("service_accounts", {})
    if email in accounts:
        raise ApiError(409, "Service account %s already exists within project projects/%s."
                       % (account_id, project["projectId"]), status="ALREADY_EXISTS")
    given = ctx.body.get("serviceAccount") or {}
    unique = str(int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10 ** 21)
    accounts[email] = {"name": "projects/%s/serviceAccounts/%s" % (project["projectId"], email),
                       "projectId": project["projectId"], "uniqueId": unique, "email": email,
                       "displayName": given.get("displayName", ""), "description": given.get("description", ""),
                       "etag": "MDEwMjE5MjA=", "oauth2ClientId": unique}
    return 200, accounts[email]


@handler("iam.projects.serviceAccounts.get")
def service_account_get(ctx):
    return 200, _account(ctx)[2]


@handler("iam.projects.serviceAccounts.patch")
def service_account_patch(ctx):
    account = _account(ctx)[2]
    mask = [f.strip() for f in (ctx.body.get("updateMask") or "").split(",") if f.strip()]
    unknown = [f for f in mask if f not in ("displayName", "description", "display_name")]
    if not mask or unknown:
        raise ApiError(400, "updateMask must name displayName and/or description%s."
                       % (" (not %s)" % ", ".join(unknown) if unknown else ""), status="INVALID_ARGUMENT")
    given = ctx.body.get("serviceAccount") or {}
    for field in mask:
        field = "displayName" if field == "display_name" else field
        account[field] = given.get(field, "")
    return 200, account


@handler("iam.projects.serviceAccounts.delete")
def service_account_delete(ctx):
    project, email, _account_ = _account(ctx)
    del project["service_accounts"][email]
    return 200, {}


# Compute Engine quotas that are not among compute v1's regional Quota.metric values, as Cloud Quotas reports
# them: {quota id: (dimensions, DimensionsInfos of the emulated project, most specific first)}. Per Google's
# DimensionsInfo reference (google-cloud-quotas, cloudquotas_v1/types/resources.py), an info applies to the
# dimension values it names and, for a dimension it does not name, to every value no other info names.
# The quota ids and the tpu_family/gpu_family values are read from public projects that query the Cloud
# Quotas API (not from Google's documentation, which names the console's "TPUs per TPU family" and "GPUs per
# GPU family" only): unverified, as the README says. The emulated project has been granted some accelerator
# quota (a new project has none); a test plants other values with /_emulator/config {"cloud_quotas": ...}.
CLOUD_QUOTAS = {
    "TPUS-PER-TPU-FAMILY-per-project-region": (["region", "tpu_family"], [
        {"dimensions": {"tpu_family": "CT6E"}, "value": 32}, {"dimensions": {}, "value": 0}]),
    "PREEMPTIBLE-TPU-V6E-per-project-region": (["region"], [{"dimensions": {}, "value": 64}]),
    "GPUS-PER-GPU-FAMILY-per-project-region": (["region", "gpu_family"], [
        {"dimensions": {"gpu_family": "NVIDIA_H100"}, "value": 16}, {"dimensions": {}, "value": 0}]),
}


@handler("cloudquotas.projects.locations.services.quotaInfos.get")
def quota_info_get(ctx):
    from .compute import REGIONS  # pylint: disable=import-outside-toplevel

    service, quota_id, location = ctx.param("servicesId"), ctx.param("quotaInfosId"), ctx.param("locationsId")
    project = ctx.project()
    if location != "global":
        raise ApiError(400, "The location of a QuotaInfo must be global, not %s." % location, status="INVALID_ARGUMENT")
    if service != "compute.googleapis.com" or quota_id not in CLOUD_QUOTAS:
        raise ApiError(404, "QuotaInfo %s of service %s was not found." % (quota_id, service), status="NOT_FOUND")
    dimensions, defaults = CLOUD_QUOTAS[quota_id]
    infos = []
    for info in list(ctx.emu.cloud_quotas.get(quota_id, [])) + defaults:
        unknown = sorted(set(info["dimensions"]) - set(dimensions))
        if unknown:  # a test naming a dimension this quota does not have
            raise ApiError(500, "emulator: %s has no dimension %s" % (quota_id, ", ".join(unknown)))
        region = info["dimensions"].get("region")
        infos.append({"dimensions": dict(info["dimensions"]), "details": {"value": str(int(info["value"]))},
                      "applicableLocations": [region] if region else sorted(REGIONS)})
    return 200, {
        "name": "projects/%s/locations/global/services/%s/quotaInfos/%s" % (project["number"], service, quota_id),
        "quotaId": quota_id,
        "service": service, "isPrecise": True, "containerType": "PROJECT", "dimensions": dimensions,
        "quotaIncreaseEligibility": {"isEligible": True}, "dimensionsInfos": infos}
