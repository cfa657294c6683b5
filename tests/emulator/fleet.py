"""GKE Hub v1 (the fleet): memberships of the clusters and the fleet features (multi-cluster service discovery,
multi-cluster ingress with its config membership), as long-running operations.
"""

import re

from .core import ApiError, handler, now_rfc3339
from .others import lro_json
from .gke import NAME_RE, _bad


# -- GKE Hub ----------------------------------------------------------------------------------
def _hub_lro(ctx, target, response_type, on_done):
    """A google.longrunning operation; ``response_type`` None answers google.protobuf.Empty."""
    def done():
        response = on_done()
        if response_type is None:
            return {"@type": "type.googleapis.com/google.protobuf.Empty"}
        return dict(response, **{"@type": "type.googleapis.com/google.cloud.gkehub.v1." + response_type})
    op = ctx.emu.start_operation("gkehub", ctx.method.id, done, {"target": target},
                                 prefix="projects/%s/locations/global/operations/operation-" % ctx.param("projectsId"))
    return 200, {"name": op.name, "done": False}


def _hub_key(ctx, kind, name=None):
    return "gkehub:projects/%s/locations/%s/%s/%s" % (ctx.param("projectsId"), ctx.param("locationsId"), kind,
                                                      name or ctx.param(kind + "Id"))


def _hub_existing(ctx, kind):
    """(key, resource) of the membership or feature the request names, or 404."""
    key = _hub_key(ctx, kind)
    found = ctx.emu.get(key)
    if found is None:
        raise ApiError(404, "Resource '%s' was not found" % key.split(":", 1)[1])
    return key, found


@handler("gkehub.projects.locations.memberships.create")
def membership_create(ctx):
    name = ctx.param("membershipId") or ""
    if not NAME_RE.match(name):
        raise _bad("membershipId \"%s\" is invalid." % name)
    key = _hub_key(ctx, "memberships", name)
    if ctx.emu.get(key) or key in ctx.emu.reserved:
        raise ApiError(409, "Membership %s already exists." % name, status="ALREADY_EXISTS")
    link = ctx.body.get("endpoint", {}).get("gkeCluster", {}).get("resourceLink", "")
    path = link.replace("//container.googleapis.com/", "")
    if not path or ctx.emu.get("container:" + path) is None:
        raise _bad("endpoint.gkeCluster.resourceLink: cluster %s does not exist." % (link or "(empty)"))
    membership = dict(ctx.body, name=key.split(":", 1)[1], state={"code": "READY"}, createTime=now_rfc3339(),
                      uniqueId=ctx.emu.next_id())
    ctx.emu.reserved.add(key)

    def done():
        ctx.emu.reserved.discard(key)
        ctx.emu.store[key] = membership
        return membership
    return _hub_lro(ctx, key, "Membership", done)


@handler("gkehub.projects.locations.memberships.get", "gkehub.projects.locations.features.get")
def hub_get(ctx):
    return 200, _hub_existing(ctx, ctx.method.id.split(".")[3])[1]


@handler("gkehub.projects.locations.memberships.list")
def membership_list(ctx):
    prefix = "gkehub:projects/%s/locations/%s/memberships/" % (ctx.param("projectsId"), ctx.param("locationsId"))
    return 200, {"resources": [m for _key, m in sorted(ctx.emu.items(prefix))]}


@handler("gkehub.projects.locations.memberships.delete")
def membership_delete(ctx):
    key = _hub_existing(ctx, "memberships")[0]
    for _key, feature in ctx.emu.items("gkehub:projects/%s/locations/global/features/" % ctx.param("projectsId")):
        if feature.get("spec", {}).get("multiclusteringress", {}).get("configMembership", "").endswith(
                "/memberships/" + ctx.param("membershipsId")):
            raise ApiError(400, "Membership is the config membership of feature multiclusteringress; delete or "
                                "update the feature first.", status="FAILED_PRECONDITION")
    return _hub_lro(ctx, key, None, lambda: ctx.emu.store.pop(key, None))


def _check_feature_spec(ctx, feature):
    config = feature.get("spec", {}).get("multiclusteringress", {}).get("configMembership")
    if config is not None:
        path = re.sub(r"^projects/\d+/", "projects/%s/" % ctx.param("projectsId"), config)
        if ctx.emu.get("gkehub:" + path) is None:
            raise _bad("spec.multiclusteringress.configMembership: membership %s does not exist." % config)


@handler("gkehub.projects.locations.features.create")
def feature_create(ctx):
    name = ctx.param("featureId") or ""
    key = _hub_key(ctx, "features", name)
    if ctx.emu.get(key):
        raise ApiError(409, "Feature %s already exists." % name, status="ALREADY_EXISTS")
    service = "%s.googleapis.com" % name
    ctx.emu.check_service(ctx.emu.project(ctx.param("projectsId")), service)
    _check_feature_spec(ctx, ctx.body)
    feature = dict(ctx.body, name=key.split(":", 1)[1], resourceState={"state": "ACTIVE"}, createTime=now_rfc3339())

    def done():
        ctx.emu.store[key] = feature
        return feature
    return _hub_lro(ctx, key, "Feature", done)


@handler("gkehub.projects.locations.features.patch")
def feature_patch(ctx):
    key, feature = _hub_existing(ctx, "features")
    mask = [m for m in (ctx.param("updateMask") or "").split(",") if m]
    if not mask:
        raise _bad("updateMask is required.")
    _check_feature_spec(ctx, ctx.body)

    def done():
        for field in mask:
            top = field.split(".")[0]
            feature[top] = ctx.body.get(top, {})
        return feature
    return _hub_lro(ctx, key, "Feature", done)


@handler("gkehub.projects.locations.features.delete")
def feature_delete(ctx):
    key = _hub_existing(ctx, "features")[0]
    return _hub_lro(ctx, key, None, lambda: ctx.emu.store.pop(key, None))


@handler("gkehub.projects.locations.operations.get")
def hub_operation(ctx):
    name = "projects/%s/locations/%s/operations/%s" % (ctx.param("projectsId"), ctx.param("locationsId"),
                                                       ctx.param("operationsId"))
    op = ctx.emu.operations.get(name)
    if op is None:
        raise ApiError(404, "Operation %s not found." % name)
    return 200, lro_json(op)
