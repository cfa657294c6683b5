"""Command line: ``python -m emulator start|stop|serve`` (run with ``PYTHONPATH=tests``).

``start`` runs the emulator in the background and returns once it answers; it writes, in the state
directory, ``emulator.pid``, ``endpoint`` and ``credentials.json`` - a service-account key whose
``token_uri`` is the emulator, so the real google-auth service-account flow works against it.
``stop`` ends it. ``serve`` runs it in the foreground.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import Emulator, serve

HERE = os.path.dirname(os.path.abspath(__file__))


def make_service_account(emu, path, project, endpoint, email=None):
    """Write a service-account key file for ``email`` and teach the emulator its public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    email = email or "ansible@%s.iam.gserviceaccount.com" % project
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    emu.keys[email] = public
    info = {"type": "service_account", "project_id": project, "private_key_id": "emulator",
            "private_key": private, "client_email": email, "client_id": "1",
            "token_uri": endpoint + "/token"}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(info, handle)
    os.chmod(path, 0o600)
    return info


def load_latency():
    with open(os.path.join(HERE, "latency.json"), encoding="utf-8") as handle:
        return {k: v for k, v in json.load(handle).items() if not k.startswith("_")}


def cmd_serve(args):
    emu = Emulator(latency_scale=args.latency_scale, latency=load_latency(), project=args.project,
                   project_number=args.project_number, dataplane_scale=args.dataplane_scale)
    if args.load:
        with open(args.load, "rb") as handle:
            emu.load(handle.read())
    server = serve(emu, args.host, args.port)
    endpoint = "http://%s:%d" % (args.host, server.server_address[1])
    os.makedirs(args.state_dir, exist_ok=True)
    make_service_account(emu, os.path.join(args.state_dir, "credentials.json"), args.project, endpoint)
    with open(os.path.join(args.state_dir, "endpoint"), "w", encoding="utf-8") as handle:
        handle.write(endpoint)
    print("emulator listening on %s (project %s)" % (endpoint, args.project), flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *args: stop.append(1))
    try:
        while not stop:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    server.shutdown()
    emu.dataplane.stop()  # no model-server process outlives the emulator


def _alive(endpoint):
    try:
        with urllib.request.urlopen(endpoint + "/_emulator/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _port_free(host, port):
    """Whether ``port`` can be bound on ``host`` (0 always can: the system picks a free one)."""
    if not port:
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _log_tail(path, lines=5):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def cmd_start(args):
    os.makedirs(args.state_dir, exist_ok=True)
    cmd_stop(args, quiet=True)  # an emulator of this state directory still running, or a stale pid file
    for name in ("endpoint",):
        if os.path.exists(os.path.join(args.state_dir, name)):
            os.remove(os.path.join(args.state_dir, name))
    if not _port_free(args.host, args.port):
        sys.exit("emulator: port %d on %s is in use; set EMULATOR_PORT to a free port, or leave it unset "
                 "and the emulator takes any free port" % (args.port, args.host))
    log_path = os.path.join(args.state_dir, "emulator.log")
    log = open(log_path, "ab")  # pylint: disable=consider-using-with
    argv = [sys.executable, "-m", "emulator", "serve", "--host", args.host, "--port", str(args.port),
            "--state-dir", args.state_dir, "--project", args.project, "--latency-scale", str(args.latency_scale)]
    if args.dataplane_scale is not None:
        argv += ["--dataplane-scale", str(args.dataplane_scale)]
    if args.project_number:
        argv += ["--project-number", args.project_number]
    if args.load:
        argv += ["--load", os.path.abspath(args.load)]
    env = dict(os.environ, PYTHONPATH=os.path.dirname(HERE) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(argv, stdout=log, stderr=log, env=env, start_new_session=True)  # pylint: disable=consider-using-with
    pid_file = os.path.join(args.state_dir, "emulator.pid")
    with open(pid_file, "w", encoding="utf-8") as handle:
        handle.write(str(proc.pid))
    deadline = time.time() + 30
    endpoint_file = os.path.join(args.state_dir, "endpoint")
    while time.time() < deadline:
        if proc.poll() is not None:
            os.remove(pid_file)
            sys.exit("emulator exited early (exit %s): %s\n(full log: %s)"
                     % (proc.returncode, _log_tail(log_path), log_path))
        if os.path.exists(endpoint_file):
            with open(endpoint_file, encoding="utf-8") as handle:
                endpoint = handle.read().strip()
            if endpoint and _alive(endpoint):
                print(endpoint)
                return
        time.sleep(0.1)
    cmd_stop(args, quiet=True)
    sys.exit("emulator did not answer within 30 s; see %s" % log_path)


def _is_emulator(pid):
    """Whether ``pid`` is an emulator process (a pid file can outlive its process, and the pid be reused)."""
    if not os.path.isdir("/proc/self"):
        return True  # no /proc to ask: trust the pid file
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            argv = handle.read().split(b"\0")
    except OSError:
        return False
    return argv[1:4] == [b"-m", b"emulator", b"serve"]  # what cmd_start runs


def cmd_stop(args, quiet=False):
    pid_file = os.path.join(args.state_dir, "emulator.pid")
    if not os.path.exists(pid_file):
        return
    with open(pid_file, encoding="utf-8") as handle:
        pid = int(handle.read().strip() or 0)
    os.remove(pid_file)
    if pid <= 0 or not _is_emulator(pid):
        if not quiet:
            print("emulator was not running (stale pid file removed)")
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    for _attempt in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
    if not quiet:
        print("emulator stopped")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m emulator", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["start", "stop", "serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT") or 0),
                        help="default: $EMULATOR_PORT, or else any free port (start prints the endpoint)")
    parser.add_argument("--state-dir", default=os.environ.get("EMULATOR_STATE_DIR", ".emulator"))
    parser.add_argument("--project", default=os.environ.get("EMULATOR_PROJECT", "gke-inference-local"))
    parser.add_argument("--project-number", default=None)
    parser.add_argument("--latency-scale", type=float, default=float(os.environ.get("EMULATOR_LATENCY_SCALE", "0.01")))
    parser.add_argument("--dataplane-scale", type=float, default=float(os.environ["EMULATOR_DATAPLANE_SCALE"])
                        if os.environ.get("EMULATOR_DATAPLANE_SCALE") else None,
                        help="multiplies data-plane times (health checks, preStop, token latency); "
                             "default: the latency scale")
    parser.add_argument("--load", default=None, help="start from a snapshot (POST /_emulator/snapshot wrote it)")
    args = parser.parse_args(argv)
    {"start": cmd_start, "stop": cmd_stop, "serve": cmd_serve}[args.command](args)


if __name__ == "__main__":
    main()
