"""The module host (plugins/module_utils/turbo.py) under a real ansible-playbook: the same results as
plain module processes (the collection's and ansible.builtin's, through the inventories' launcher), a host
that ends once idle, and off when asked."""

import glob
import json
import marshal
import os
import struct
import subprocess
import sys
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LAUNCHER = "{{ lookup('gke_inference.multicluster.module_host') }}"
# The test hosts' idle time (GKE_INFERENCE_TURBO_IDLE): longer than the gap between two tasks on a crowded machine
# (with 2 s, a host once ended between the collection's modules and ansible.builtin.command's, which then ran on
# its own), short enough to watch the host end.
IDLE = 10


def play(gcp, tmp_path):
    """Module calls of the collection (one fails on purpose) and of ansible.builtin, whose results go to a file."""
    auth = {"project": gcp.project, "api_endpoint": gcp.endpoint, "auth_kind": "serviceaccount",
            "service_account_file": gcp.key_file}
    out = tmp_path / "results.json"
    tasks = [
        # the run's first module of the collection starts the host and waits for it
        {"name": "Read the project", "gke_inference.multicluster.project_info": auth, "register": "info"},
        {"name": "A bucket that is not there", "gke_inference.multicluster.storage_object_info": dict(
            auth, bucket="no-such-bucket", name="x"), "register": "missing", "ignore_errors": True},
        {"name": "Check mode", "gke_inference.multicluster.compute_network": dict(auth, name="vpc", mtu=8896),
         "check_mode": True, "diff": True, "register": "network"},
        # a module of another collection, through the inventory's launcher: in the host too, now that it is up
        {"name": "Where modules run", "ansible.builtin.command": "env", "register": "where", "changed_when": False},
        {"name": "Keep the results", "ansible.builtin.copy": {
            "content": "{{ {'info': info, 'missing': missing, 'network': network, 'where': where.stdout} | to_json }}",
            "dest": str(out), "mode": "0600"}},
    ]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return str(path), out


def run(path, turbo, tmp, pipelining="False"):
    """The play under ansible-playbook with the inventories' interpreter; the host's sockets seen meanwhile.

    With pipelining (what the inventories ask for) Ansible hands the launcher each script on its stdin."""
    folder = os.path.join(str(tmp), "gke-inference-turbo-%d" % os.getuid())
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), GKE_INFERENCE_TURBO=turbo,
               ANSIBLE_PIPELINING=pipelining,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), TMPDIR=str(tmp),
               GKE_INFERENCE_TURBO_IDLE=str(IDLE))  # a host of this test's own (its TMPDIR), ended soon after
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path, "-i",
                             "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + LAUNCHER],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sockets = set()
    while proc.poll() is None:
        sockets.update(glob.glob(os.path.join(folder, "host-*.sock")))
        time.sleep(0.05)
    return proc.returncode, proc.stdout.read(), sockets


def comparable(results):
    for result in results.values():
        for key in ("invocation", "_ansible_no_log", "warnings", "deprecations"):
            if isinstance(result, dict):
                result.pop(key, None)
    return results


def test_modules_in_the_host_answer_as_plain_modules(gcp, tmp_path):
    path, out = play(gcp, tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code, text, sockets = run(path, "0", tmp)
    assert code == 0, text
    assert not sockets
    plain = comparable(json.loads(out.read_text()))
    assert "_GKE_INFERENCE_TURBO_CHILD" not in plain.pop("where")
    out.unlink()

    code, text, sockets = run(path, "1", tmp)
    assert code == 0, text
    assert sockets, "no module host was started"
    hosted = comparable(json.loads(out.read_text()))
    assert "_GKE_INFERENCE_TURBO_CHILD=1" in hosted.pop("where")  # ansible.builtin.command ran in the host
    assert hosted == plain
    out.unlink()

    code, text, pipelined_sockets = run(path, "1", tmp, pipelining="True")
    assert code == 0, text
    sockets |= pipelined_sockets
    pipelined = comparable(json.loads(out.read_text()))
    assert "_GKE_INFERENCE_TURBO_CHILD=1" in pipelined.pop("where")  # the script came on stdin, and ran in the host
    assert pipelined == plain
    assert plain["info"]["project_number"] == "123456789012"
    assert plain["missing"]["failed"] is True or plain["missing"].get("exists") is False
    assert plain["network"]["changed"] is True and plain["network"]["diff"]
    # The host ends once no module came for GKE_INFERENCE_TURBO_IDLE seconds, and takes its socket with it.
    deadline = time.time() + IDLE + 15
    while time.time() < deadline and any(os.path.exists(s) for s in sockets):
        time.sleep(0.1)
    assert not any(os.path.exists(s) for s in sockets)
    assert not gcp.resources("compute:")  # check mode, in the host too


def test_the_launcher_runs_a_pipelined_script_itself_when_there_is_no_host(tmp_path):
    """Outside ansible-playbook (no controller to find) the launcher runs what it reads on stdin as ``python -``
    would: the same output, exit code and ``__name__``, and a script that is not AnsiballZ's is never sent on."""
    import importlib.util  # pylint: disable=import-outside-toplevel

    spec = importlib.util.spec_from_file_location("module_host", os.path.join(ROOT, "plugins", "lookup", "module_host.py"))
    lookup = importlib.util.module_from_spec(spec)
    env = dict(os.environ, TMPDIR=str(tmp_path), GKE_INFERENCE_TURBO="1")
    old = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path)
    try:
        import tempfile  # pylint: disable=import-outside-toplevel
        tempfile.tempdir = None
        spec.loader.exec_module(lookup)
        launcher = lookup.launcher_path()
    finally:
        if old is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old
        tempfile.tempdir = None
    assert launcher != sys.executable and os.path.dirname(launcher).startswith(str(tmp_path))
    # what the launcher takes for a pipelined AnsiballZ script (ansible_module='...', on a line of its own)
    script = ("import sys\nprint('ran as', __name__, sys.argv)\n# _ansiballz_main(\n"
              "ansible_module='ping',\nsys.exit(3)\n")
    proc = subprocess.run([launcher], input=script, capture_output=True, text=True, env=env, check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == "ran as __main__ ['']\n"
    assert not glob.glob(os.path.join(str(tmp_path), "gke-inference-turbo-*", "host-*.sock"))


def test_the_lookup_starts_the_host_ahead_of_the_first_module(tmp_path):
    """site.yml's first play asks the lookup to start the host (start=true): it comes up with no module run at all,
    so that the run's first module finds it loaded; off with GKE_INFERENCE_TURBO=0."""
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "Start the host", "ansible.builtin.set_fact": {
            "interpreter": "{{ lookup('gke_inference.multicluster.module_host', start=true) }}"}}]}]))
    folder = os.path.join(str(tmp_path), "gke-inference-turbo-%d" % os.getuid())
    # off: nothing comes up (watched for 5 s; a host loads in 2 to 3 s here); on: the host comes up (watched for
    # up to 90 s: on a crowded machine a host once took longer than 20 s to load)
    for turbo, expected, watch in (("0", False, 5), ("1", True, 90)):
        code, out, _sockets = run(str(path), turbo, tmp_path)
        assert code == 0, out
        deadline, seen = time.time() + watch, False
        while time.time() < deadline and not seen:
            seen = bool(glob.glob(os.path.join(folder, "host-*.sock")))
            time.sleep(0.1)
        assert seen == expected, (turbo, out)
    deadline = time.time() + IDLE + 20  # idle for GKE_INFERENCE_TURBO_IDLE: it ends and removes its socket
    while time.time() < deadline and glob.glob(os.path.join(folder, "host-*.sock")):
        time.sleep(0.1)
    assert not glob.glob(os.path.join(folder, "host-*.sock"))


def _start_test_host(tmp_path, idle="2"):
    """A module host of the test's own (socket and folders under tmp_path), once it is up."""
    from ansible_collections.gke_inference.multicluster.plugins.module_utils import turbo  # pylint: disable=import-outside-toplevel

    path, starting = str(tmp_path / "host.sock"), str(tmp_path / "host.starting")
    with open(starting, "w", encoding="utf-8"):
        pass
    host = subprocess.Popen([sys.executable, "-c", turbo.HOST, path, "0", idle, starting])  # pylint: disable=consider-using-with
    deadline = time.time() + 60
    while os.path.exists(starting) and time.time() < deadline:
        time.sleep(0.1)
    return host, path


def _ask(path, script, cwd):
    """Run ``script`` in a fork of the host at ``path`` as a pipelined module would; (rc, stdout, stderr)."""
    from ansible_collections.gke_inference.multicluster.plugins.module_utils import turbo  # pylint: disable=import-outside-toplevel

    conn = turbo._connect(path)  # pylint: disable=protected-access
    assert conn is not None, "the host did not come up"
    request = marshal.dumps({"source": script.encode(), "env": {"PATH": os.environ.get("PATH", "")}, "cwd": str(cwd),
                             "python": sys.executable})
    try:
        conn.sendall(struct.pack("!I", len(request)) + request)
        answer = turbo._recv(conn)  # pylint: disable=protected-access
    finally:
        conn.close()
    return answer["rc"], answer["stdout"].decode(), answer["stderr"].decode()


def test_the_host_keeps_its_libraries_out_of_the_forks_collections(tmp_path):
    """The host freezes what it loaded (gc.freeze) before it forks for modules: a fork's garbage collections do not
    walk the libraries' objects, nor copy their pages. A module in the host still has a working collector."""
    host, path = _start_test_host(tmp_path)
    try:
        script = ("import gc, json\nloose = []\nloose.append(loose)\ndel loose\n"
                  "print(json.dumps({'frozen': gc.get_freeze_count(), 'freed': gc.collect(), 'on': gc.isenabled()}))\n")
        rc, out, err = _ask(path, script, tmp_path)
        assert rc == 0, err
        seen = json.loads(out)
        assert seen["frozen"] > 10000  # the Google and Kubernetes libraries the host loaded
        assert seen["on"] is True and seen["freed"] >= 1  # the module's own cycle was collected
    finally:
        host.terminate()
        host.wait(10)


def test_the_host_keeps_what_it_compiled_from_payloads(tmp_path):
    """A payload's sources (a zip, as AnsiballZ's) are compiled once: the code is kept in the host's folder, named
    after the source's hash, and the next fork that imports the same source from another zip loads it, with the
    file name of its own zip. A damaged file there is compiled again and replaced."""
    import hashlib  # pylint: disable=import-outside-toplevel
    import importlib.util  # pylint: disable=import-outside-toplevel
    import zipfile  # pylint: disable=import-outside-toplevel

    source = b"def where():\n    return where.__code__.co_filename\n\nANSWER = 42\n"
    for run in ("a", "b", "c"):
        with zipfile.ZipFile(tmp_path / ("payload-%s.zip" % run), "w") as archive:
            archive.writestr("payload_mod.py", source)
    script = ("import json, sys\nsys.path.insert(0, %r)\nimport payload_mod\n"
              "print(json.dumps([payload_mod.ANSWER, payload_mod.where()]))\n")
    kept = tmp_path / "code" / hashlib.sha256(importlib.util.MAGIC_NUMBER + source).hexdigest()
    host, path = _start_test_host(tmp_path, idle="10")
    try:
        for run in ("a", "b", "c"):
            archive = str(tmp_path / ("payload-%s.zip" % run))
            if run == "c":
                kept.write_bytes(b"not code")
            rc, out, err = _ask(path, script % archive, tmp_path)
            assert rc == 0, err
            assert json.loads(out) == [42, os.path.join(archive, "payload_mod.py")]
            # kept from the first fork (b loaded it: the code it returned has b's file name), made again by c
            stored = "payload-c.zip" if run == "c" else "payload-a.zip"
            assert marshal.loads(kept.read_bytes()).co_filename == os.path.join(str(tmp_path), stored, "payload_mod.py")
            assert oct((tmp_path / "code").stat().st_mode & 0o777) == "0o700"
    finally:
        host.terminate()
        host.wait(10)
