# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""A module host: Google's client libraries and the Kubernetes client loaded once, each module run in a fork.

Importing Google's client libraries costs a module process 1 to 3 CPU-seconds, the Kubernetes client
about 0.7; the work of a module that finds nothing to change takes a few hundredths of that. A module
run on the controller (``connection: local``, what every inventory of the collection uses) is handed
to a host process that imported those libraries once, in one of two ways: the inventories' interpreter
(the ``module_host`` lookup) is a launcher that sends the whole AnsiballZ script of any module, a file
or, with pipelining, its stdin (``launch()``), and each module of this collection does so itself when it
starts (``delegate()``).
The host forks, the fork runs the module exactly as AnsiballZ would (the same script or payload,
arguments, environment and working directory) and returns what it printed and its exit code, which
the module process prints and exits with. So every module is still a plain Ansible module:
ansible-doc, AWX, check and diff mode see no difference.

- Off with ``GKE_INFERENCE_TURBO=0`` (or ``false``/``no``/``off``) in the controller's environment.
- Only under an ``ansible-playbook`` or ``ansible`` process of this user; anywhere else (a module run
  by hand, a test calling ``main()``) nothing changes. One host per user and Python, shared by the
  runs that come while it lives: it ends after ``GKE_INFERENCE_TURBO_IDLE`` seconds without a module
  (120 by default). What a module runs comes from its own payload every time; the host keeps only the
  libraries installed with that Python, as they were when it started.
- The first module of a run starts the host; it and the modules that come while the host loads its
  libraries (about 3 CPU-seconds) wait for it rather than import the same libraries in their own
  process, which would cost as much again and compete with the host for the CPU. A host that does not
  come up within 30 seconds, or dies, is given up on: those modules run in their own process.
- The host freezes what it loaded (``gc.freeze``) before it forks, so that a fork's garbage collections
  neither walk the libraries' objects nor copy their pages.
- A payload's sources (the module and its collections' module_utils, which zipimport compiles on every import)
  are compiled once: the code is kept in the host's folder (``code``), named after the SHA-256 of the source's
  bytes and the interpreter's byte-code magic, and loaded from there by the next fork that imports the same
  source. At more than 4000 files the host empties it when it starts.
- The launcher imports only what a module handed to a running host needs: it costs little more than the
  interpreter's own start (about 17 ms of CPU on the development machine, where it took 46-66 ms).
- The socket is in a directory only this user can enter, mode 0600. The arguments cross it (they
  can hold credentials) and are never logged: the host writes nothing but its own failures.
- Anything that goes wrong before the fork (no host, a refused connection) falls back to running
  the module in its own process, as without the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import marshal
import os
import sys

# The launcher (launch()) runs before every module of a run: only what a module handed to a running host needs is
# imported up front (os, sys and marshal are loaded with the interpreter); the rest where it is used.
# pylint: disable=import-outside-toplevel

ENV_SWITCH = "GKE_INFERENCE_TURBO"
ENV_CHILD = "_GKE_INFERENCE_TURBO_CHILD"
CONTROLLERS = ("ansible-playbook", "ansible")
START_TIMEOUT = 30.0
# Where the module's name is in a pipelined AnsiballZ script (ansible-core writes its arguments one per line)
PIPELINED = b"\nansible_module='"

# The host's program: standard library only, so that it needs nothing from a payload that is gone
# once the module that started it exits. argv: socket path, controller pid (0: none), idle seconds.
HOST = r'''
import importlib, marshal, os, signal, socket, struct, sys, tempfile, time
sys.path = [p for p in sys.path if p and not p.endswith(".zip") and os.path.isdir(p)]
PRELOAD = ("google.auth", "google.auth.transport.requests", "google.oauth2.service_account",
           "google.api_core.exceptions", "google.api_core.client_options", "google.api_core.gapic_v1",
           "google.api_core.operation", "google.api_core.extended_operation", "google.protobuf.json_format",
           "google.cloud.compute_v1", "google.cloud.container_v1", "google.cloud.gkehub_v1",
           "google.cloud.resourcemanager_v3", "google.cloud.service_usage_v1", "google.cloud.storage",
           "google.cloud.storage.bucket", "google.iam.v1.policy_pb2", "requests", "yaml",
           "kubernetes.config", "kubernetes.dynamic", "kubernetes.dynamic.exceptions", "kubernetes.client")
for name in PRELOAD:
    try:
        importlib.import_module(name)
    except Exception:
        pass
try:  # ansible-core's module_utils as installed with this interpreter, used when the payload has the same release
    import ansible.module_utils.basic
    import ansible.module_utils._internal._ansiballz._loader
    from ansible.module_utils.ansible_release import __version__ as ANSIBLE
except Exception:
    ANSIBLE = None
path, controller, idle, starting = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]


def cache_compiled_sources(folder, keep=4000):
    """A module's payload is a zip of sources (the module, its collections' module_utils), which zipimport compiles
    on every import, twice in Python 3.11 (get_filename, then get_code): about 35 ms of a fork's CPU. The code
    compiled from a source is kept in ``folder`` (this user's only), named after the SHA-256 of the interpreter's
    bytecode magic and the source's bytes; a fork that imports the same source loads it from there. Only what
    zipimport would compile from exactly those bytes is ever loaded; the file name in the code is the payload's."""
    import _imp, hashlib, importlib.util, marshal, zipimport
    original = getattr(zipimport, "_compile_source", None)
    if original is None or not hasattr(_imp, "_fix_co_filename"):
        return
    try:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        info = os.stat(folder)
        names = os.listdir(folder)
    except OSError:  # a full disk: the forks compile as zipimport does
        return
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        return
    if len(names) > keep:  # many releases' worth: start again
        for name in names:
            try:
                os.unlink(os.path.join(folder, name))
            except OSError:
                pass
    magic, compiled = importlib.util.MAGIC_NUMBER, {}

    def compile_source(pathname, source):
        key = hashlib.sha256(magic + bytes(source)).hexdigest()
        code = compiled.get((key, pathname))  # a code object of its own for each file name it is given
        if code is None:
            try:
                with open(os.path.join(folder, key), "rb") as handle:
                    code = marshal.loads(handle.read())
            except (OSError, EOFError, ValueError, TypeError):
                code = original(pathname, source)
                try:
                    handle, temp = tempfile.mkstemp(dir=folder, prefix=".code-")
                    with os.fdopen(handle, "wb") as out:
                        out.write(marshal.dumps(code))
                    os.replace(temp, os.path.join(folder, key))
                except (OSError, ValueError):
                    pass
            _imp._fix_co_filename(code, pathname)
            compiled[(key, pathname)] = code
        return code

    zipimport._compile_source = compile_source


cache_compiled_sources(os.path.join(os.path.dirname(path), "code"))
# The libraries' objects are moved out of the cyclic garbage collector's reach: a fork's collections then do not
# walk them, nor write to their pages, which the fork would have to copy (Python's gc.freeze documentation).
import gc
gc.freeze()


def recv(conn):
    head = b""
    while len(head) < 4:
        chunk = conn.recv(4 - len(head))
        if not chunk:
            raise EOFError
        head += chunk
    size, data = struct.unpack("!I", head)[0], b""
    while len(data) < size:
        chunk = conn.recv(min(65536, size - len(data)))
        if not chunk:
            raise EOFError
        data += chunk
    return marshal.loads(data)


def send(conn, obj):
    data = marshal.dumps(obj)
    conn.sendall(struct.pack("!I", len(data)) + data)


def run(conn, req):
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    rc = 0
    try:
        os.environ.clear()
        os.environ.update(req["env"])
        os.environ["_GKE_INFERENCE_TURBO_CHILD"] = "1"
        os.chdir(req["cwd"])
        same = req.get("python") == sys.executable  # the launcher: the host's own installation
        if not same and req.get("ansible") != ANSIBLE:  # another release: its module_utils come from the payload
            for name in [n for n in sys.modules if n == "ansible" or n.startswith("ansible.")]:
                del sys.modules[name]
        if "modlib" in req:
            sys.path.insert(0, req["modlib"])
        importlib.invalidate_caches()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            if "script" in req:  # a whole AnsiballZ script, from the launcher: run as its interpreter would
                import runpy
                sys.argv = [req["script"]]
                runpy.run_path(req["script"], run_name="__main__")
            elif "source" in req:  # the script Ansible pipelined to the launcher's stdin: run as python - would
                import types
                main = types.ModuleType("__main__")
                sys.modules["__main__"] = main
                sys.argv = [""]
                exec(compile(req["source"], "<stdin>", "exec"), main.__dict__)
            else:
                from ansible.module_utils._internal._ansiballz import _loader
                _loader.run_module(json_params=req["params"], profile=req["profile"],
                                   module_fqn=req["fqn"], modlib_path=req["modlib"], extensions={})
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException as exc:  # the fork must answer whatever happens
        rc = 1
        os.write(2, ("module host: %r\n" % (exc,)).encode())
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:
            pass
    out.seek(0)
    err.seek(0)
    send(conn, {"rc": rc, "stdout": out.read(), "stderr": err.read()})


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    os.unlink(path)
except OSError:
    pass
server.bind(path)
os.chmod(path, 0o600)
bound = os.stat(path).st_ino
server.listen(128)
server.settimeout(0.5)
try:
    os.unlink(starting)  # modules connect from now on
except OSError:
    pass
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
children, last = set(), time.time()
try:
    while (not controller or alive(controller)) and (children or time.time() - last < idle):
        for pid in list(children):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    children.discard(pid)
            except ChildProcessError:
                children.discard(pid)
        try:
            conn, _addr = server.accept()
        except socket.timeout:
            continue
        last = time.time()
        conn.settimeout(None)
        try:
            req = recv(conn)
        except Exception:
            conn.close()
            continue
        pid = os.fork()
        if pid == 0:
            server.close()
            try:
                run(conn, req)
            finally:
                os._exit(0)
        children.add(pid)
        conn.close()
finally:
    try:  # only our own socket: an idle host may end while a new one is starting at the same path
        if os.stat(path).st_ino == bound:
            os.unlink(path)
    except OSError:
        pass
'''


def _enabled():
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _controller_pid():
    """The ansible-playbook (or ansible) process this module runs under, or None.

    Its task workers are forks with the same command line: the topmost one is the controller."""
    pid, found = os.getppid(), None
    for _level in range(12):
        if pid <= 1:
            break
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as handle:
                argv = handle.read().split(b"\0")
            with open("/proc/%d/stat" % pid, "rb") as handle:
                parent = int(handle.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
        names = [os.path.basename(a.decode("utf-8", "replace")) for a in argv[:2]]
        if any(name in CONTROLLERS for name in names):
            found = pid
        elif found is not None:
            break
        pid = parent
    return found


def _recv(conn):
    head = b""
    while len(head) < 4:
        chunk = conn.recv(4 - len(head))
        if not chunk:
            raise EOFError("the module host closed the connection")
        head += chunk
    size, data = int.from_bytes(head, "big"), b""
    while len(data) < size:
        chunk = conn.recv(min(65536, size - len(data)))
        if not chunk:
            raise EOFError("the module host closed the connection")
        data += chunk
    return marshal.loads(data)


def _connect(path):
    import _socket  # the socket module's own imports cost a launcher more than the rest of its work

    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.connect(path)
    except OSError:
        conn.close()
        return None
    return conn


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait_for_host(path, starting, host=None):
    """A connection once the host that is starting answers, or None when it died or never came up.

    Waiting costs less than running here: a module of its own would import the same libraries the host
    is importing (3 CPU-seconds for the preflight), and on a busy controller they compete for the CPU."""
    import time

    deadline, host_pid = time.time() + START_TIMEOUT, None
    while time.time() < deadline:
        conn = _connect(path)
        if conn is not None:
            return conn
        if host is None and host_pid is None:
            try:
                with open(starting, "rb") as handle:
                    host_pid = int(handle.read() or b"0") or None
            except (OSError, ValueError):
                pass
        died = host.poll() is not None if host is not None else host_pid is not None and not _alive(host_pid)
        if died or not os.path.exists(starting):
            return _connect(path)  # it came up just now, or it died: then run here
        time.sleep(0.05)
    return None


def private_folder(*parts):
    """This user's folder for the module host and what the collection's modules keep between runs (the launcher, the
    host's socket, ``parts`` below it, created as needed), or None when it is not a folder only this user can enter:
    then the caller does without it. Under the system's temporary directory (``TMPDIR``)."""
    import tempfile

    folder = os.path.join(tempfile.gettempdir(), "gke-inference-turbo-%d" % os.getuid())
    for part in ("",) + parts:
        folder = os.path.join(folder, part) if part else folder
        if not os.path.isdir(folder):
            try:
                os.mkdir(folder, 0o700)
            except FileExistsError:  # several modules may start at once
                pass
        info = os.stat(folder)
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
    return folder


def _host_paths(folder=None):
    """(socket, starting marker) of this user's module host, or None when the folder is not one only we can enter.

    ``folder``: that folder, as the launcher's lookup found it (the launcher is in it); else it is looked up."""
    import zlib

    folder = folder or private_folder()
    if folder is None:
        return None  # not a folder only we can enter: run without the host
    # One host per user, Python and host program, shared by the runs that come while it lives
    key = "host-%08x" % zlib.crc32((sys.executable + HOST).encode())
    return os.path.join(folder, key + ".sock"), os.path.join(folder, key + ".starting")


def _start_host(path, starting, marker):
    """Start the host in a session of its own; ``marker`` is the open starting file, which gets its pid."""
    import subprocess

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    idle = os.environ.get("GKE_INFERENCE_TURBO_IDLE", "120")
    with open(os.devnull, "r+b") as null:
        host = subprocess.Popen([sys.executable, "-c", HOST, path, "0", idle, starting],  # pylint: disable=consider-using-with
                                stdin=null, stdout=null, stderr=null, env=env, cwd="/", start_new_session=True,
                                close_fds=True)
    try:
        os.write(marker, str(host.pid).encode())  # for the modules that wait with the one that started it
    finally:
        os.close(marker)
    return host


def prestart():
    """Start the module host in the background when none is up or starting, and return at once (True when this
    call started it). site.yml calls it (the module_host lookup's start option) before its first checks, so that
    the first module finds the host loaded or nearly."""
    if not _enabled():
        return False
    paths = _host_paths()
    if paths is None:
        return False
    path, starting = paths
    conn = _connect(path)
    if conn is not None:
        conn.close()
        return False
    try:
        marker = os.open(starting, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        return False  # another process is starting it
    _start_host(path, starting, marker)
    return True


def _host_connection(controller, start=True, folder=None):
    """A connection to this run's module host, or None: then the module runs in its own process.

    The first module of a run finds no host: it starts one, and it and the modules that come while the
    host loads its libraries wait for it (at most START_TIMEOUT seconds, then they run on their own)."""
    paths = _host_paths(folder)
    if paths is None:
        return None
    path, starting = paths
    conn = _connect(path)
    if conn is not None or not start:
        return conn
    try:  # one module starts the host; the host removes the marker
        marker = os.open(starting, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:
        import time

        try:
            if time.time() - os.stat(starting).st_mtime > START_TIMEOUT:  # a host that never came up
                os.unlink(starting)
                return None
        except OSError:
            pass
        return _wait_for_host(path, starting)
    return _wait_for_host(path, starting, _start_host(path, starting, marker))


def _exchange(conn, request, what):
    """Send a request to the host, print what the module printed there and exit with its code."""
    data = marshal.dumps(request)
    try:
        try:
            conn.sendall(len(data).to_bytes(4, "big") + data)
            answer = _recv(conn)
        finally:
            conn.close()
    except (OSError, EOFError, ValueError, TypeError) as exc:
        # The host may have run the module: running it again here could repeat a change. Say so instead.
        import json

        sys.stdout.write(json.dumps({"failed": True, "msg": "The module host of this run (%s) failed before it "
                                     "answered: %s. Run again, or set %s=0 to run modules without it."
                                     % (what, exc, ENV_SWITCH)}))
        sys.stdout.flush()
        sys.exit(1)  # pylint: disable=ansible-bad-function
    for stream, name in ((sys.stdout, "stdout"), (sys.stderr, "stderr")):
        stream.flush()
        getattr(stream, "buffer", stream).write(answer[name])
        stream.flush()
    sys.exit(answer["rc"])  # pylint: disable=ansible-bad-function


def _run_source(source):
    """Run a script read from stdin in this process, as ``python -`` would have."""
    import types

    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    sys.argv = [""]
    exec(compile(source, "<stdin>", "exec"), main.__dict__)  # pylint: disable=exec-used


def _pipelined_module(source):
    """The module's name in a pipelined AnsiballZ script, or None when ``source`` is not one."""
    start = source.find(PIPELINED)
    if start < 0 or b"_ansiballz_main(" not in source:
        return None
    start += len(PIPELINED)
    end = source.find(b"',\n", start, start + 200)
    name = source[start:end] if end > start else b""
    if not (name.isascii() and name.replace(b"_", b"a").replace(b".", b"a").isalnum()):
        return None
    return name.decode()


def launch(argv, heavy=(), folder=None):
    """The interpreter the module_host lookup gives Ansible: run an AnsiballZ script in this run's module host,
    else exactly as the Python interpreter would (``argv`` is this process's ``sys.argv``).

    The script is a file (``argv[1]``) or, when Ansible pipelines (what the collection's inventories ask
    for), this process's stdin. A module named in ``heavy`` (whose libraries are costly to import) starts the
    host when there is none; the others use it only when it is up. Async wrappers and anything unexpected run
    here. ``folder``: this user's private folder, where the launcher is (as the lookup found it)."""
    script = argv[1] if len(argv) == 2 else ""
    name = os.path.basename(script)
    usable = _enabled() and not os.environ.get(ENV_CHILD) and os.path.isdir("/proc/self")
    source, request = None, None
    if name.startswith("AnsiballZ_") and name.endswith(".py"):
        module, request = name[len("AnsiballZ_"):-3], {"script": os.path.abspath(script)}
    elif len(argv) == 1 and usable and not sys.stdin.isatty():  # pipelined: the script is on stdin
        source = sys.stdin.buffer.read()
        module = _pipelined_module(source)
        if module:
            request = {"source": source}
    if request is not None and usable:
        controller = _controller_pid()
        conn = None
        if controller is not None:
            try:
                paths = _host_paths(folder)
                conn = _connect(paths[0]) if paths else None  # the host is up: the common case, nothing else needed
                if conn is None:
                    import fnmatch

                    conn = _host_connection(controller, start=any(fnmatch.fnmatchcase(module, h) for h in heavy),
                                            folder=folder)
            except OSError:
                conn = None
        if conn is not None:
            request.update(cwd=os.getcwd(), env=dict(os.environ), python=sys.executable)
            _exchange(conn, request, "AnsiballZ_%s" % module)
    if source is not None:
        _run_source(source)
        return
    os.execv(sys.executable, [sys.executable] + list(argv[1:]))


def delegate():
    """Run this module in the run's module host, print its result and exit; return to run it here."""
    if not _enabled() or os.environ.get(ENV_CHILD):
        return
    main = sys.modules.get("__main__")
    fqn, modlib = getattr(main, "_module_fqn", None), getattr(main, "_modlib_path", None)
    if not (fqn and modlib):
        return  # not a module under AnsiballZ (a test, ansible-doc, a filter on the controller): run here
    from ansible.module_utils import basic

    params, profile = getattr(basic, "_ANSIBLE_ARGS", None), getattr(basic, "_ANSIBLE_PROFILE", None)
    if not (fqn and modlib and params and profile) or not os.path.isdir("/proc/self"):
        return  # not AnsiballZ on a Linux controller: run here
    controller = _controller_pid()
    if controller is None:
        return
    try:
        conn = _host_connection(controller)
    except OSError:
        conn = None
    if conn is None:
        return  # no host: run here
    from ansible.module_utils.ansible_release import __version__ as release

    request = {"fqn": fqn, "modlib": modlib, "profile": profile, "cwd": os.getcwd(), "env": dict(os.environ),
               "params": params, "ansible": release}
    _exchange(conn, request, fqn)
