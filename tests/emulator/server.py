"""The emulator's HTTP side: one handler for the Google APIs (dispatched by core), the control endpoints, the
token endpoint and forward-proxy requests into the emulated VPC (the data plane), and a quiet threading server.
"""

import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


from .core import ApiError, PARTS


class HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's algorithm and the client's delayed
    # ACK hold the body back about 40 ms on every keep-alive request, which no real API server does.
    disable_nagle_algorithm = True
    emu = None  # set by serve()

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def _reply(self, status, payload, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self):
        if self.path.startswith("http://"):  # a forward-proxy request: the emulated data plane
            return self.emu.dataplane.proxy(self)
        parsed = urllib.parse.urlsplit(self.path)
        query = {k: v[0] if len(v) == 1 else v for k, v in urllib.parse.parse_qs(parsed.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        if parsed.path.startswith("/_emulator/") or parsed.path == "/token":
            status, payload = PARTS["control"](self.emu, self.command, parsed.path, query, raw, headers)
            return self._reply(status, payload)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
            status, payload = 400, ApiError(400, "Invalid JSON payload received.").body()
        else:
            try:
                status, payload = self.emu.dispatch(self.command, parsed.path, query, body, headers)
            except ApiError as exc:
                status, payload = exc.code, exc.body()
        self.emu.log({
            "time": time.time(), "method": self.command, "path": parsed.path, "query": query,
            "body": body, "status": status,
            "method_id": next((hit[0].id for hit in self.emu.registry.match(self.command, parsed.path)), None),
        })
        return self._reply(status, payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


class QuietHTTPServer(ThreadingHTTPServer):
    """The threading HTTP server every emulator endpoint uses.

    A client that closes a keep-alive connection (a module process that exits, a drill client that
    times out) is normal, not an error: the stdlib server would print a traceback for each one.
    Anything else is still reported.
    """

    daemon_threads = True
    # A listen backlog like a real server's: socketserver's default of 5 drops connections when many clients (the
    # load test's requests, the gateway's health checks) connect at once on a busy machine, and each dropped one
    # waits a second for its retransmission (longer than a scaled health check's timeout).
    request_queue_size = 128
    CLIENT_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], self.CLIENT_GONE):
            return
        super().handle_error(request, client_address)


def serve(emu, host="127.0.0.1", port=0):
    """Start the HTTP server in a daemon thread; return the server (``server_address`` has the port)."""
    handler_class = type("BoundHandler", (HttpHandler,), {"emu": emu})
    server = QuietHTTPServer((host, port), handler_class)
    # how a pod reaches the VPC (gateway and pod addresses): the data plane's forward proxy on this server
    emu.http_address = "http://%s:%d" % server.server_address[:2]
    thread = threading.Thread(target=server.serve_forever, name="gcp-emulator", daemon=True)
    thread.start()
    return server
