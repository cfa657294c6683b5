"""One emulated vLLM model server process (``python -m emulator.model_server``), started by the data plane
for each ready replica of an emulated model-server Deployment.

It speaks the part of vLLM's OpenAI-compatible surface the collection uses: ``GET /health``,
``GET /metrics`` (Prometheus text with ``vllm:kv_cache_usage_perc``, ``vllm:num_requests_running`` and
``vllm:num_requests_waiting``), ``POST /v1/completions`` and ``POST /v1/chat/completions``. A request holds
``prompt + max_tokens`` tokens of KV cache while it is generated (``--ttft`` + ``--tpot`` per token);
requests that do not fit wait, as vLLM queues them. SIGTERM ends the process at once, dropping the
requests in flight - which is why a pod must stop receiving traffic before it is terminated.
It prints its port on the first line of stdout and binds only to loopback.
``--middleware module.Class`` (repeatable) runs every response through that ASGI middleware class, as
``vllm serve --middleware`` does (a class is added with Starlette's ``add_middleware``, the last one
outermost); a middleware that cannot be imported stops the server at start, as it stops vLLM.
"""

import argparse
import asyncio
import importlib
import inspect
import json
import os
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler

from .server import QuietHTTPServer


class Engine:
    def __init__(self, args):
        self.args = args
        self.cond = threading.Condition()
        self.used = 0  # KV-cache tokens held by running requests
        self.running = 0
        self.waiting = 0
        self.served = 0

    def generate(self, tokens, out_tokens):
        tokens = min(tokens, self.args.kv_cache_tokens)
        with self.cond:
            self.waiting += 1
            while self.used + tokens > self.args.kv_cache_tokens:
                self.cond.wait()
            self.waiting -= 1
            self.used += tokens
            self.running += 1
        try:
            time.sleep(self.args.ttft + out_tokens * self.args.tpot)
        finally:
            with self.cond:
                self.used -= tokens
                self.running -= 1
                self.served += 1
                self.cond.notify_all()

    def metrics(self):
        with self.cond:
            usage = self.used / float(self.args.kv_cache_tokens)
            labels = '{engine="0",model_name="%s"}' % self.args.served_model_name
            return "".join([
                "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n",
                "# TYPE vllm:kv_cache_usage_perc gauge\n",
                "vllm:kv_cache_usage_perc%s %.6f\n" % (labels, usage),
                "# TYPE vllm:num_requests_running gauge\n",
                "vllm:num_requests_running%s %d\n" % (labels, self.running),
                "# TYPE vllm:num_requests_waiting gauge\n",
                "vllm:num_requests_waiting%s %d\n" % (labels, self.waiting),
                "# TYPE vllm:request_success_total counter\n",
                "vllm:request_success_total%s %d\n" % (labels, self.served),
            ])


def count_tokens(text):
    return max(1, len(str(text).split()))


def load_middleware(paths):
    """The classes ``vllm serve --middleware`` would add (vLLM also takes coroutine functions: not emulated)."""
    classes = []
    for path in paths:
        module_path, name = path.rsplit(".", 1)
        imported = getattr(importlib.import_module(module_path), name)
        if not inspect.isclass(imported):
            raise ValueError("Invalid middleware %s: the emulator runs ASGI middleware classes only." % path)
        classes.append(imported)
    return classes


def through_middleware(classes, scope, status, headers, body):
    """Run one finished response through the ASGI middleware stack; returns (status, headers, body)."""
    sent = []

    async def app(scope_, receive, send):  # pylint: disable=unused-argument
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    stack = app
    for cls in classes:
        stack = cls(app=stack)
    asyncio.run(stack(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], list(start.get("headers") or []), b"".join(
        m.get("body", b"") for m in sent if m["type"] == "http.response.body")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the client's delayed
    # ACK hold the body back about 40 ms on every keep-alive request, which no real API server does.
    disable_nagle_algorithm = True
    engine = None
    middleware = ()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _reply(self, status, payload, content_type="application/json"):
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        headers = [(b"content-type", content_type.encode("latin-1"))]
        if self.middleware:
            path, _sep, query = self.path.partition("?")
            scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": self.command,
                     "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query.encode(),
                     "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()],
                     "client": self.client_address, "server": self.server.server_address[:2]}
            status, headers, data = through_middleware(self.middleware, scope, status, headers, data)
        self.send_response(status)
        for name, value in headers:
            if bytes(name).lower() != b"content-length":
                self.send_header(bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802
        if self.path == "/health":
            return self._reply(200, "", "text/plain")
        if self.path == "/metrics":
            return self._reply(200, self.engine.metrics(), "text/plain; version=0.0.4")
        if self.path == "/v1/models":
            model = {"id": self.engine.args.served_model_name, "object": "model", "owned_by": "vllm"}
            return self._reply(200, {"object": "list", "data": [model]})
        return self._reply(404, {"detail": "Not Found"})

    def _error(self, status, kind, message):
        return self._reply(status, {"object": "error", "message": message, "type": kind, "param": None,
                                    "code": status})

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._error(400, "BadRequestError", "Invalid JSON body")
        chat = self.path == "/v1/chat/completions"
        if self.path not in ("/v1/completions", "/v1/chat/completions"):
            return self._reply(404, {"detail": "Not Found"})
        args = self.engine.args
        if body.get("model") != args.served_model_name:
            return self._error(404, "NotFoundError", "The model `%s` does not exist." % body.get("model"))
        if chat:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                return self._error(400, "BadRequestError", "messages: field required")
            prompt = sum(count_tokens(m.get("content", "")) for m in messages if isinstance(m, dict))
        else:
            if "prompt" not in body:
                return self._error(400, "BadRequestError", "prompt: field required")
            prompt = count_tokens(body["prompt"])
        out = int(body.get("max_tokens") or 16)
        if prompt + out > args.max_model_len:
            return self._error(400, "BadRequestError", "This model's maximum context length is %d tokens. However, "
                               "you requested %d tokens." % (args.max_model_len, prompt + out))
        self.engine.generate(prompt + out, out)
        text = " ".join(["token"] * out)
        created = int(time.time())
        usage = {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}
        if chat:
            payload = {"id": "chatcmpl-" + uuid.uuid4().hex, "object": "chat.completion", "created": created,
                       "model": args.served_model_name, "usage": usage,
                       "choices": [{"index": 0, "finish_reason": "length",
                                    "message": {"role": "assistant", "content": text}}]}
        else:
            payload = {"id": "cmpl-" + uuid.uuid4().hex, "object": "text_completion", "created": created,
                       "model": args.served_model_name, "usage": usage,
                       "choices": [{"index": 0, "text": text, "finish_reason": "length", "logprobs": None}]}
        return self._reply(200, payload)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m emulator.model_server")
    parser.add_argument("--served-model-name", required=True)
    parser.add_argument("--kv-cache-tokens", type=int, default=4096)
    parser.add_argument("--max-model-len", type=int, default=4096)
    parser.add_argument("--ttft", type=float, default=0.002)
    parser.add_argument("--tpot", type=float, default=0.0002)
    parser.add_argument("--middleware", action="append", default=[])
    args = parser.parse_args(argv)
    handler = type("BoundHandler", (Handler,), {"engine": Engine(args),
                                                "middleware": tuple(load_middleware(args.middleware))})
    server = QuietHTTPServer(("127.0.0.1", 0), handler)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # vLLM aborts what is in flight
    parent = os.getppid()

    def orphan_watch():  # never outlive the emulator
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)
    threading.Thread(target=orphan_watch, daemon=True).start()
    sys.stdout.write("%d\n" % server.server_address[1])
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
