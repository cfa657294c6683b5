"""Resource Manager v3 (projects and their IAM policies) and Service Usage v1 (services, service identities,
operations).
"""

import hashlib

from .core import ApiError, handler
from .iam import check_policy


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
