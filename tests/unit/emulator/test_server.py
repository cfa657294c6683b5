"""The emulator's HTTP servers stay quiet when a client hangs up, and still report real errors."""

import http.client
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from emulator.server import QuietHTTPServer


class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = QuietHTTPServer(("127.0.0.1", 0), Hello)
    yield srv
    srv.server_close()


@pytest.mark.parametrize("error", [ConnectionResetError, BrokenPipeError, ConnectionAbortedError])
def test_client_hang_up_prints_nothing(server, capsys, error):
    try:
        raise error(104, "Connection reset by peer")
    except OSError:
        server.handle_error(None, ("127.0.0.1", 40000))
    assert capsys.readouterr().err == ""


def test_other_errors_are_still_reported(server, capsys):
    try:
        raise ValueError("a bug in a handler")
    except ValueError:
        server.handle_error(None, ("127.0.0.1", 40000))
    err = capsys.readouterr().err
    assert "ValueError: a bug in a handler" in err and "127.0.0.1" in err


def test_serves_requests_on_daemon_threads(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=5)
        conn.request("GET", "/")
        response = conn.getresponse()
        assert (response.status, response.read()) == (200, b"ok")
        conn.close()
        assert server.daemon_threads
    finally:
        server.shutdown()
