"""The module host (plugins/module_utils/turbo.py) under a real ansible-playbook: the same results as
plain module processes, one host per controller run that ends with the run, and off when asked."""

import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
FOLDER = os.path.join(tempfile.gettempdir(), "gke-inference-turbo-%d" % os.getuid())


def play(gcp, tmp_path):
    """Three module calls (one fails on purpose) whose results go to a file."""
    auth = {"project": gcp.project, "api_endpoint": gcp.endpoint, "auth_kind": "serviceaccount",
            "service_account_file": gcp.key_file}
    out = tmp_path / "results.json"
    tasks = [
        # the run's first module starts the host and waits for it ...
        {"name": "Start the host", "gke_inference.multicluster.project_info": auth},
        # ... the host answers from then on: its socket is named after this run
        {"name": "Wait for the host", "ansible.builtin.find": {
            "paths": FOLDER, "file_type": "any",
            # the controller: the parent of the task's worker process, whose child runs this lookup's shell
            "patterns": "{{ lookup('ansible.builtin.pipe', 'ps -o ppid= -p $PPID') | trim }}-*.sock"},
         "register": "found", "until": "found.matched > 0", "retries": 120, "delay": 0.25,
         "when": "lookup('ansible.builtin.env', 'GKE_INFERENCE_TURBO') != '0'"},
        {"name": "Read the project", "gke_inference.multicluster.project_info": auth, "register": "info"},
        {"name": "A bucket that is not there", "gke_inference.multicluster.storage_object_info": dict(
            auth, bucket="no-such-bucket", name="x"), "register": "missing", "ignore_errors": True},
        {"name": "Check mode", "gke_inference.multicluster.compute_network": dict(auth, name="vpc", mtu=8896),
         "check_mode": True, "diff": True, "register": "network"},
        {"name": "Keep the results", "ansible.builtin.copy": {
            "content": "{{ {'info': info, 'missing': missing, 'network': network} | to_json }}",
            "dest": str(out), "mode": "0600"}},
    ]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    return str(path), out


def run(path, turbo):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), GKE_INFERENCE_TURBO=turbo,
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"))
    proc = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path, "-i",
                             "localhost,", "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sockets = set()
    while proc.poll() is None:  # the host's socket, named after this controller, while the run lasts
        sockets.update(glob.glob(os.path.join(FOLDER, "%d-*.sock" % proc.pid)))
        time.sleep(0.05)
    return proc.returncode, proc.stdout.read(), proc.pid, sockets


def comparable(results):
    for result in results.values():
        for key in ("invocation", "_ansible_no_log", "warnings", "deprecations"):
            result.pop(key, None)
    return results


def test_modules_in_the_host_answer_as_plain_modules(gcp, tmp_path):
    path, out = play(gcp, tmp_path)
    code, text, _pid, sockets = run(path, "0")
    assert code == 0, text
    assert not sockets
    plain = comparable(json.loads(out.read_text()))
    out.unlink()

    code, text, pid, sockets = run(path, "1")
    assert code == 0, text
    assert sockets, "no module host was started for ansible-playbook %d" % pid
    hosted = comparable(json.loads(out.read_text()))
    assert hosted == plain
    assert plain["info"]["project_number"] == "123456789012"
    assert plain["missing"]["failed"] is True or plain["missing"].get("exists") is False
    assert plain["network"]["changed"] is True and plain["network"]["diff"]
    # The host ends with its controller run, and takes its socket with it.
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(s) for s in sockets):
        time.sleep(0.1)
    assert not any(os.path.exists(s) for s in sockets)
    assert not gcp.resources("compute:")  # check mode, in the host too
