"""The emulator's own endpoints: OAuth token exchange and the test-control API under /_emulator/."""

import json
import secrets
import time
import urllib.parse

from google.auth import jwt

from .core import ApiError, part


def _token(emu, raw):
    """OAuth 2.0 JWT-bearer grant, as Google's token endpoint answers a service-account key."""
    form = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
    assertion = form.get("assertion", "")
    try:
        claims = jwt.decode(assertion, verify=False)
        key = emu.keys.get(claims.get("iss"))
        if key is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        jwt.decode(assertion, certs=key, verify=True, audience=claims.get("aud"))
    except ValueError as exc:
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT: %s" % exc}
    token = "ya29.emulator-" + secrets.token_urlsafe(24)
    emu.tokens.add(token)
    # Google's access tokens expire (3599 s); a test shortens the lifetime to run a phase past it.
    emu.token_expiry[token] = time.time() + emu.token_lifetime
    return 200, {"access_token": token, "expires_in": int(emu.token_lifetime), "token_type": "Bearer"}


@part("control")
def handle(emu, http_method, path, query, raw, headers):  # pylint: disable=unused-argument
    if path == "/token":
        return _token(emu, raw)
    body = json.loads(raw) if raw else {}
    route = (http_method, path[len("/_emulator/"):])
    with emu.lock:
        emu.tick()
        if route == ("GET", "health"):
            return 200, {"ok": True}
        if route == ("POST", "reset"):
            emu.reset()
            return 200, {"ok": True}
        if route == ("POST", "projects"):
            project = emu.add_project(body["projectId"], body.get("projectNumber"),
                                      body.get("enabledServices", ()) or ())
            return 200, {"projectId": project["projectId"], "number": project["number"]}
        if route == ("POST", "tokens"):
            emu.tokens.add(body["token"])
            return 200, {"ok": True}
        if route == ("POST", "faults"):
            for fault in body if isinstance(body, list) else [body]:
                emu.add_fault(fault)
            return 200, {"faults": emu.faults}
        if route == ("DELETE", "faults"):
            emu.faults.clear()
            return 200, {"faults": []}
        if route == ("GET", "faults"):
            return 200, {"faults": emu.faults}
        if route == ("GET", "requests"):
            return 200, {"requests": emu.requests}
        if route == ("DELETE", "requests"):
            emu.requests.clear()
            return 200, {"requests": []}
        if route == ("POST", "config"):
            if "latency_scale" in body:
                emu.latency_scale = float(body["latency_scale"])
            if "denied_permissions" in body:
                emu.denied_permissions = set(body["denied_permissions"])
            if "quotas" in body:
                emu.quotas = body["quotas"]
            if "cloud_quotas" in body:
                emu.cloud_quotas = body["cloud_quotas"]
            if "token_lifetime" in body:
                emu.token_lifetime = float(body["token_lifetime"])
            if "dataplane_scale" in body:
                emu.dataplane_scale = float(body["dataplane_scale"])
            emu.latency.update(body.get("latency", {}))
            return 200, {"latency_scale": emu.latency_scale, "dataplane_scale": emu.dataplane_scale}
        if route == ("POST", "snapshot"):  # {"path": file to write}
            try:
                raw = emu.snapshot()
            except ApiError as exc:
                return exc.code, exc.body()
            with open(body["path"], "wb") as handle:
                handle.write(raw)
            return 200, {"path": body["path"], "bytes": len(raw)}
        if route == ("POST", "load"):  # {"path": a file "snapshot" wrote}
            with open(body["path"], "rb") as handle:
                emu.load(handle.read())
            return 200, {"clusters": len(emu.kube)}
        if route == ("GET", "dataplane"):
            return 200, emu.dataplane.state()
        if route == ("GET", "state"):
            projects = {pid: {"number": p["number"], "services": sorted(p["services"])}
                        for pid, p in emu.projects.items()}
            pending = [op.name for op in emu.operations.values() if not op.done]
            return 200, {"projects": projects, "resources": emu.store, "pending_operations": pending}
    return 404, {"error": {"code": 404, "message": "unknown emulator control endpoint %s %s" % route}}
