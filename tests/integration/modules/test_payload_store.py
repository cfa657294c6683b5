"""The lean_forks callback's payload store, through real ansible-playbook runs of a small collection's module: a
payload built in one run is used by the next instead of being built again, and never once one of its files changed
or is found elsewhere (the module then answers with the new code)."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILT = "ANSIBALLZ: Creating module"
MODULE = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.testns.payload.plugins.module_utils.answer import ANSWER


def main():
    AnsibleModule(argument_spec={}).exit_json(changed=False, answer=ANSWER)


if __name__ == "__main__":
    main()
'''
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - testns.payload.probe:
      register: probe
    - ansible.builtin.debug:
        msg: "answer={{ probe.answer }}"
"""


def collection(root, answer):
    base = os.path.join(root, "ansible_collections", "testns", "payload", "plugins")
    for folder in ("modules", "module_utils"):
        os.makedirs(os.path.join(base, folder), exist_ok=True)
    with open(os.path.join(base, "modules", "probe.py"), "w", encoding="utf-8") as handle:
        handle.write(MODULE)
    with open(os.path.join(base, "module_utils", "answer.py"), "w", encoding="utf-8") as handle:
        handle.write("ANSWER = %d\n" % answer)
    return os.path.join(base, "module_utils", "answer.py")


def run(tmp_path, paths, store="1"):
    with open(tmp_path / "play.yml", "w", encoding="utf-8") as handle:
        handle.write(PLAY)
    with open(tmp_path / "ansible.cfg", "w", encoding="utf-8") as handle:
        handle.write("[defaults]\ncallbacks_enabled = gke_inference.multicluster.lean_forks\n")
    env = dict(os.environ, ANSIBLE_CONFIG=str(tmp_path / "ansible.cfg"), ANSIBLE_DEBUG="1", TMPDIR=str(tmp_path / "tmp"),
               ANSIBLE_COLLECTIONS_PATH=":".join(paths + [os.path.join(ROOT, ".collections")]),
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"), GKE_INFERENCE_PAYLOAD_STORE=store, GKE_INFERENCE_TURBO="0")
    os.makedirs(tmp_path / "tmp", exist_ok=True)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "play.yml", "-i", "localhost,",
                           "-c", "local", "-e", "ansible_python_interpreter=" + sys.executable], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    built = [line for line in out.splitlines() if BUILT in line]
    # ansible-core's debug lines name the payload's cache file after "Lock acquired" just before it builds it
    probe_built = "testns.payload.plugins.modules.probe" in "".join(
        line for line in out.splitlines() if "Lock acquired" in line)
    answer = [line for line in out.splitlines() if "answer=" in line][-1].split("answer=")[1].strip('" ')
    return int(answer), probe_built, len(built)


def store_entries(tmp_path):
    folder = tmp_path / "tmp" / ("gke-inference-turbo-%d" % os.getuid()) / "payloads"
    return {p.name: p for sub in folder.iterdir() for p in sub.iterdir()} if folder.is_dir() else {}


def test_a_payload_is_built_once_and_never_used_after_its_files_changed(tmp_path):
    first = str(tmp_path / "first")
    answer_file = collection(first, 41)
    assert run(tmp_path, [first]) == (41, True, 1)
    name = "ansible_collections.testns.payload.plugins.modules.probe-ZIP_DEFLATED-none"
    entries = store_entries(tmp_path)
    manifest = json.loads(entries[name + ".json"].read_text())["members"]
    assert manifest["ansible_collections/testns/payload/plugins/module_utils/answer.py"][0] == os.path.abspath(answer_file)
    assert any(member.startswith("ansible/module_utils/") for member in manifest)
    assert oct(entries[name].stat().st_mode & 0o777) == "0o600"
    assert oct(entries[name].parent.stat().st_mode & 0o777) == "0o700"

    assert run(tmp_path, [first]) == (41, False, 0)  # from the store: nothing built

    with open(answer_file, "w", encoding="utf-8") as handle:  # same size, same place, other content
        handle.write("ANSWER = 42\n")
    assert run(tmp_path, [first]) == (42, True, 1)
    assert run(tmp_path, [first]) == (42, False, 0)

    second = str(tmp_path / "second")  # the same collection found first somewhere else
    collection(second, 43)
    assert run(tmp_path, [second, first]) == (43, True, 1)

    assert run(tmp_path, [second, first], store="0") == (43, True, 1)  # off: built in every run
