"""The region-header middleware the workload role mounts into vLLM (roles/workload/files/gke_region_header.py),
driven as Starlette drives an ASGI middleware class: ``cls(app=inner)``, then ``await mw(scope, receive, send)``."""

import asyncio
import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SOURCE = os.path.join(ROOT, "roles", "workload", "files", "gke_region_header.py")


def load():
    spec = importlib.util.spec_from_file_location("gke_region_header", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.RegionHeader


def run(middleware_cls, scope, headers=((b"content-type", b"application/json"),), chunks=(b"{}",)):
    """Serve one request through ``middleware_cls`` wrapped around an app that streams ``chunks``."""
    sent, seen = [], {}

    async def app(scope_, receive, send):
        seen["scope"] = scope_
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": list(headers)})
        for index, chunk in enumerate(chunks):
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(middleware_cls(app=app)(scope, receive, send))
    return sent, seen


HTTP = {"type": "http", "method": "POST", "path": "/v1/completions", "headers": []}


def test_every_response_names_the_region(monkeypatch):
    monkeypatch.setenv("GKE_SERVED_REGION", "us-east5")
    monkeypatch.delenv("GKE_REGION_HEADER", raising=False)
    sent, seen = run(load(), HTTP, chunks=(b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"))
    assert seen["scope"] is HTTP
    assert sent[0]["status"] == 200
    assert sent[0]["headers"] == [(b"content-type", b"application/json"), (b"x-served-region", b"us-east5")]
    # a streamed body passes chunk by chunk, unbuffered and unchanged
    assert [m["body"] for m in sent[1:]] == [b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"]
    assert [m["more_body"] for m in sent[1:]] == [True, True, False]


def test_header_name_is_configurable_and_replaces_one_already_there(monkeypatch):
    monkeypatch.setenv("GKE_SERVED_REGION", "europe-west4")
    monkeypatch.setenv("GKE_REGION_HEADER", "X-Region")
    sent = run(load(), HTTP, headers=[(b"X-Region", b"spoofed"), (b"content-length", b"2")])[0]
    assert sent[0]["headers"] == [(b"content-length", b"2"), (b"x-region", b"europe-west4")]


@pytest.mark.parametrize("scope_type, region", [("lifespan", "us-east5"), ("websocket", "us-east5"), ("http", "")])
def test_other_traffic_and_an_unset_region_pass_untouched(monkeypatch, scope_type, region):
    monkeypatch.setenv("GKE_SERVED_REGION", region)
    scope = dict(HTTP, type=scope_type)
    sent, seen = run(load(), scope)
    assert seen["scope"] is scope
    assert sent[0]["headers"] == [(b"content-type", b"application/json")]
