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
                                                         awx_regions=["us-east5", "europe-west4"])
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
    assert set(surveys) == {"site", "preflight", "failover drill", "load test", "teardown"}
