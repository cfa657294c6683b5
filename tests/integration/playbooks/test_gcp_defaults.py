"""The lookup that every playbook and Molecule scenario sets its module defaults with
(plugins/lookup/gcp_defaults.py), run by ansible-playbook as the playbooks run it."""

import json
import os
import subprocess
import sys

from helpers import ROOT, failed

PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.debug:
        msg: "DEFAULTS={{ lookup('gke_inference.multicluster.gcp_defaults') | to_json }}"
"""


def run(tmp_path, **extra_vars):
    (tmp_path / "play.yml").write_text(PLAY)
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), ANSIBLE_STDOUT_CALLBACK="default")
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([binary, str(tmp_path / "play.yml"), "-i", "localhost,", "-c", "local",
                           "-e", json.dumps(extra_vars)], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    return proc.returncode, proc.stdout + proc.stderr


def defaults(output):
    line = next(line for line in output.splitlines() if "DEFAULTS=" in line)
    return json.loads(line.split("DEFAULTS=", 1)[1].rstrip('"').replace('\\"', '"'))


def test_the_inventory_variables_become_the_options_and_templates_are_resolved(tmp_path):
    code, out = run(tmp_path, gcp_project_id="{{ 'my' }}-project", gcp_auth_kind="serviceaccount",
                    gcp_service_account_file="/keys/sa.json", gcp_api_endpoint="http://127.0.0.1:1",
                    gcp_operation_poll_max=1)
    assert code == 0, failed(out)
    assert defaults(out) == {"project": "my-project", "auth_kind": "serviceaccount",
                             "service_account_file": "/keys/sa.json", "api_endpoint": "http://127.0.0.1:1",
                             "operation_poll_max": 1}


def test_undefined_or_null_variables_are_left_to_the_module(tmp_path):
    code, out = run(tmp_path, gcp_project_id="p-1", gcp_auth_kind=None)
    assert code == 0, failed(out)
    assert defaults(out) == {"project": "p-1"}


def test_a_missing_project_names_the_variable(tmp_path):
    code, out = run(tmp_path)
    assert code != 0
    assert "gcp_project_id: not set for this host" in out
