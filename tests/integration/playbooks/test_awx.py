"""AWX: the execution environment's build context and the job templates' surveys (site.yml run by
ansible-runner the way AWX runs it is test_site.py's re-run)."""

import json
import os
import shutil
import subprocess
import sys

import jinja2
import yaml

from helpers import ROOT

BIN = os.path.dirname(sys.executable)


class PlaybookLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads Ansible's !unsafe tag as a plain string."""


PlaybookLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def test_ansible_builder_creates_the_build_context(tmp_path):
    work = tmp_path / "src"
    for name in ("execution-environment.yml", "awx/ee-python-requirements.txt", "bindep.txt", "awx/ee-requirements.yml"):
        (work / os.path.dirname(name)).mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(ROOT, name), work / name)
    build = subprocess.run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", ROOT, "--output-path",
                            str(work / "dist")], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    create = subprocess.run([os.path.join(BIN, "ansible-builder"), "create", "-f", str(work / "execution-environment.yml"),
                             "-c", str(work / "context"), "--output-filename", "Containerfile"], capture_output=True, text=True, check=False)
    assert create.returncode == 0, create.stdout + create.stderr
    context = work / "context"
    containerfile = (context / "Containerfile").read_text()
    assert "quay.io/ansible/awx-ee:24.6.1" in containerfile
    assert "COPY _build/collections/ /build/collections/" in containerfile
    assert (context / "_build" / "collections" / "gke_inference-multicluster-0.1.0.tar.gz").exists()
    # the Python packages pinned, at the versions the suite runs
    assert "google-cloud-container==2.67.0" in (context / "_build" / "requirements.txt").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {c["name"] for c in galaxy["collections"]} == {
        "kubernetes.core", "/build/collections/gke_inference-multicluster-0.1.0.tar.gz"}
    assert [c["version"] for c in galaxy["collections"] if c["name"] == "kubernetes.core"] == ["6.2.0"]


def test_configure_playbook_and_surveys(tmp_path):
    check = subprocess.run([os.path.join(BIN, "ansible-playbook"), "--syntax-check", "awx/configure.yml"], cwd=ROOT,
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(os.path.join(ROOT, "awx", "configure.yml"), encoding="utf-8") as handle:
        play = yaml.load(handle, Loader=PlaybookLoader)[0]  # nosec - a safe loader
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(os.path.join(ROOT, "awx", "templates")))
    env.filters["to_json"] = json.dumps
    surveys = {}
    for template in play["vars"]["awx_templates"]:
        text = env.get_template("survey.json.j2").render(item=template, awx_gcp_project="my-project",
                                                         awx_regions=["us-east5", "europe-west4"],
                                                         awx_profiles=["tpu_v6e", "gpu_h100"])
        surveys[template["name"]] = json.loads(text)
    for name, survey in surveys.items():
        variables = [q["variable"] for q in survey["spec"]]
        assert variables[:3] == ["gcp_project_id", "gke_config_region", "gke_preferred_region"], name
        # every survey variable is one the playbooks read
        for variable in variables:
            assert subprocess.run(["grep", "-rqs", variable, "playbooks", "roles", "site.yml", "inventories"], cwd=ROOT,
                                  check=False).returncode == 0, (name, variable)
    assert "teardown_confirm" in [q["variable"] for q in surveys["teardown"]["spec"]]
    assert [q for q in surveys["teardown"]["spec"] if q["variable"] == "teardown_confirm"][0]["required"]
    assert "gke_accelerator_profile" in [q["variable"] for q in surveys["site"]["spec"]]
    assert set(surveys) == {"site", "preflight", "verify", "drift check", "failover drill", "load test", "teardown"}


def configure_tasks():
    with open(os.path.join(ROOT, "awx", "configure.yml"), encoding="utf-8") as handle:
        play = yaml.load(handle, Loader=PlaybookLoader)[0]  # nosec - a safe loader
    return play, play["tasks"]


def test_every_awx_object_is_valid_for_its_module():
    """Each awx.awx task of configure.yml uses only options its module documents (awx.awx's sanity tests keep
    the documentation equal to the argument spec), with literal values among the documented choices, nested
    options included (the workflow's nodes and their links)."""
    _play, tasks = configure_tasks()
    used = sorted({key for task in tasks for key in task if key.startswith("awx.awx.")})
    docs = json.loads(subprocess.run([os.path.join(BIN, "ansible-doc"), "-j"] + used, capture_output=True, text=True,
                                     check=True, cwd=ROOT).stdout)
    common = {"controller_host", "controller_oauthtoken", "validate_certs"}

    def check(where, value, options):
        assert isinstance(value, dict), where
        for key, item in value.items():
            assert key in options or key in common, "%s: %s is not an option of the module" % (where, key)
            spec = options.get(key) or {}
            if isinstance(item, str) and "{{" in item:
                continue
            if spec.get("choices"):
                assert item in spec["choices"], "%s.%s: %r is not one of %s" % (where, key, item, spec["choices"])
            if spec.get("suboptions") and spec.get("type") == "dict":
                check("%s.%s" % (where, key), item, spec["suboptions"])
            if spec.get("suboptions") and spec.get("type") == "list":
                for index, element in enumerate(item):
                    check("%s.%s[%d]" % (where, key, index), element, spec["suboptions"])

    for task in tasks:
        for module in (key for key in task if key.startswith("awx.awx.")):
            check("%s (%s)" % (task["name"], module), task[module], docs[module]["doc"]["options"])
    assert {"awx.awx.workflow_job_template", "awx.awx.schedule", "awx.awx.team", "awx.awx.role"} <= set(used)


def test_the_workflow_schedules_and_who_may_tear_down():
    play, tasks = configure_tasks()
    templates = {t["name"]: t for t in play["vars"]["awx_templates"]}
    by_name = {task["name"]: task for task in tasks}
    workflow = by_name["Workflow - preflight, site, verify, failover drill"]["awx.awx.workflow_job_template"]
    nodes = {node["identifier"]: node for node in workflow["workflow_nodes"]}
    for node in nodes.values():  # every node runs one of the job templates configure.yml creates
        assert node["unified_job_template"]["name"].split(" - ", 1)[1] in templates, node
        for links in (node.get("related") or {}).values():
            assert all(link["identifier"] in nodes for link in links), node

    def after(identifier, kind):
        return [link["identifier"] for link in (nodes[identifier].get("related") or {}).get(kind, [])]
    assert after("preflight", "success_nodes") == ["site"] and after("preflight", "failure_nodes") == []
    assert after("site", "always_nodes") == ["verify"]  # a failed deployment is still reported
    assert after("verify", "success_nodes") == ["failover drill"]
    assert templates["drift check"]["job_type"] == "check" and templates["verify"]["job_tags"] == "verify"
    schedules = by_name["Schedules - the drift check daily, the failover drill weekly"]
    rules = {item["template"]: item["rrule"] for item in schedules["loop"]}
    assert set(rules) == {"drift check", "failover drill"}
    assert "FREQ=DAILY" in play["vars"]["awx_drift_rrule"] and "FREQ=WEEKLY" in play["vars"]["awx_drill_rrule"]
    operators = by_name["Operators run every template but the teardown, and the workflow"]["awx.awx.role"]
    admins = by_name["Only the platform admins run the teardown"]["awx.awx.role"]
    assert "rejectattr('name', 'equalto', 'teardown')" in operators["job_templates"]
    assert admins["job_templates"] == ["{{ awx_prefix }} - teardown"] and admins["team"] == "{{ awx_admins_team }}"


def test_survey_choices_come_from_the_inventory_and_the_profile_table(tmp_path):
    """configure.yml offers the regions of inventories/prod and the profiles of the profile table, read when it
    runs (ansible-inventory, the accelerator_profiles filter), not a copy of them."""
    playbook = tmp_path / "choices.yml"
    _play, tasks = configure_tasks()
    names = ("The inventory's regions (for the surveys)",
             "Survey choices, from the inventory and the profile table (never repeated here)")
    wanted = [t for t in tasks if t["name"] in names]
    assert len(wanted) == 2
    with open(os.path.join(ROOT, "awx", "configure.yml"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("    - name: The inventory's regions (for the surveys)")
    end = text.index("    - name: Execution environment")
    out = tmp_path / "choices.json"
    playbook.write_text("- hosts: localhost\n  connection: local\n  gather_facts: false\n  vars:\n"
                        "    awx_inventory: %s\n  tasks:\n%s    - ansible.builtin.copy:\n"
                        "        content: \"{{ {'regions': awx_regions, 'profiles': awx_profiles} | to_json }}\"\n"
                        "        dest: %s\n        mode: '0600'\n"
                        % (os.path.join(ROOT, "inventories", "prod"), text[start:end], out))
    run = subprocess.run([os.path.join(BIN, "ansible-playbook"), str(playbook)], cwd=ROOT, capture_output=True,
                         text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    choices = json.loads(out.read_text())
    assert sorted(choices["regions"]) == ["europe-west4", "us-east5"] and choices["profiles"] == ["tpu_v6e", "gpu_h100"]
