"""What the playbook tests share: running a playbook against an emulator, reading its recap, and a
copy of inventories/local for the test's project."""

import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
LOCAL = os.path.join(ROOT, "inventories", "local")


def playbook(gcp, inventory, *args, playbook="site.yml", env=None):
    env = dict(os.environ, GKE_INFERENCE_API_ENDPOINT=gcp.endpoint, GKE_INFERENCE_CREDENTIALS_FILE=gcp.key_file,
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_FORCE_COLOR="0",
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), **(env or {}))
    binary = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    proc = subprocess.run([binary, playbook, "-i", inventory] + list(args), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def failed(output):
    """A failed run's output for an assertion message, what failed first: the head of a long message is what
    a CI log keeps. Each failed task's name and its host's failure (a line, at most 1,000 characters)."""
    lines, task, found = output.splitlines(), "", []
    for line in lines:
        if line.startswith("TASK ["):
            task = line.rstrip("* ")
        elif re.match(r"^(fatal|failed): \[", line) or re.match(r"^ERROR! ", line):
            found.append("%s\n  %s" % (task, line[:1000]))
    return "what failed:\n%s\n--- the whole output:\n%s" % ("\n".join(found) or "(no failed task in the output)", output)


def recap(output):
    return {host: dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", counts))
            for host, counts in re.findall(r"^(\S+)\s+: (ok=.*)$", output, re.M)}


def local_inventory(tmp_path, gcp, extra_groups=None, overrides=None):
    """A copy of inventories/local for the test project, optionally with more regions or changed vars."""
    inv = tmp_path / "inventory"
    shutil.copytree(LOCAL, inv)
    all_vars = inv / "group_vars" / "all.yml"
    data = yaml.safe_load(all_vars.read_text())
    data["gcp_project_id"] = gcp.project
    data["gke_report_dir"] = str(tmp_path / "reports")  # not the checkout's reports/
    all_vars.write_text(yaml.safe_dump(data))
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    regions = hosts["all"]["children"]["inference_regions"]["children"]
    for group, (host, group_vars) in (extra_groups or {}).items():
        regions[group] = {"hosts": {host: None}}
        (inv / "group_vars" / ("%s.yml" % group)).write_text(yaml.safe_dump(group_vars))
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    for group, values in (overrides or {}).items():
        path = inv / "group_vars" / ("%s.yml" % group)
        merged = dict(yaml.safe_load(path.read_text()), **values)
        path.write_text(yaml.safe_dump(merged))
    return str(inv)


def first_calls(gcp):
    """When the first mutating call of each kind of the deployment reached the emulator."""
    marks = {"nodePools": "/nodePools", "memberships": "/memberships", "jobs": "/jobs",
             "deployments": "/deployments", "gateways": "/gateways"}
    first = {}
    for entry in gcp.requests(mutating=True):
        for name, part in marks.items():
            if entry["path"].endswith(part) or (part + "/") in entry["path"]:
                first.setdefault(name, entry["time"])
    assert set(first) == set(marks), first
    return first
