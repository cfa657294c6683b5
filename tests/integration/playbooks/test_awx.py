"""AWX: the execution environment's build context, the job templates' surveys, and site.yml run by
ansible-runner the way AWX runs it - credentials only from what AWX's Google credential injects."""

import json
import os
import shutil
import subprocess
import sys

import jinja2
import yaml

from test_site import ROOT

BIN = os.path.dirname(sys.executable)


class PlaybookLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Reads Ansible's !unsafe tag as a plain string."""


PlaybookLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def test_ansible_builder_creates_the_build_context(tmp_path):
    work = tmp_path / "src"
    for name in ("execution-environment.yml", "requirements.txt", "bindep.txt", "awx/ee-requirements.yml"):
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
    assert "google-cloud-container" in (context / "_build" / "requirements.txt").read_text()
    galaxy = yaml.safe_load((context / "_build" / "requirements.yml").read_text())
    assert {c["name"] for c in galaxy["collections"]} == {
        "kubernetes.core", "/build/collections/gke_inference-multicluster-0.1.0.tar.gz"}


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


def test_site_under_ansible_runner_with_the_awx_credential_environment(gcp, tmp_path, monkeypatch):
    import ansible_runner

    # AWX writes the service-account key to a private file and injects only environment variables.
    key = tmp_path / "awx-gce-key.json"
    shutil.copy(gcp.key_file, key)
    with open(key, encoding="utf-8") as handle:
        email = json.load(handle)["client_email"]
    envvars = {"GCE_CREDENTIALS_FILE_PATH": str(key), "GCP_SERVICE_ACCOUNT_FILE": str(key),
               "GOOGLE_APPLICATION_CREDENTIALS": str(key), "GCP_AUTH_KIND": "serviceaccount",
               "GCP_PROJECT": gcp.project, "GCP_ENV_TYPE": "tower", "GCE_EMAIL": email, "GCE_PROJECT": gcp.project,
               # not AWX: the emulator instead of Google, and the collection from this checkout
               "GKE_INFERENCE_API_ENDPOINT": gcp.endpoint,
               "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".collections"), "ANSIBLE_FORCE_COLOR": "0",
               "PATH": BIN + os.pathsep + os.environ.get("PATH", "")}
    for name in ("GKE_INFERENCE_CREDENTIALS_FILE", "HF_TOKEN", "GOOGLE_CLOUD_PROJECT"):
        monkeypatch.delenv(name, raising=False)
    crds = os.environ.get("GKE_INFERENCE_CRDS_DIR") or os.path.join(ROOT, "..", "shared", "crds")
    extravars = {  # what the job template's survey and the Hugging Face credential give
        "model_cache_hf_token": "hf_awxInjectedTokenNotASecret",
        "clusters_kubeconfig_dir": str(tmp_path / "kube"),
        "workload_inference_objective_crd_url": "file://" + os.path.realpath(crds) +
        "/gateway-api-inference-extension/inference.networking.x-k8s.io_inferenceobjectives.yaml"}
    (tmp_path / "runner").mkdir()
    result = ansible_runner.run(private_data_dir=str(tmp_path / "runner"), project_dir=ROOT, playbook="site.yml",
                                inventory=os.path.join(ROOT, "inventories", "prod"), envvars=envvars,
                                extravars=extravars, quiet=True, timeout=1200)
    stdout = result.stdout.read()
    assert result.status == "successful" and result.rc == 0, stdout[-5000:]
    assert not result.stats["failures"] and not result.stats["dark"]
    assert "hf_awxInjectedTokenNotASecret" not in stdout
    assert not any("hf_awxInjectedTokenNotASecret" in json.dumps(event) for event in result.events)
    gateway = gcp.emu.kube["container:projects/%s/locations/us-east5-b/clusters/gke-us-east5" % gcp.project].get(
        "gateway.networking.k8s.io", "gateways", "default", "cross-region-gateway")
    assert [c["status"] for c in gateway["status"]["conditions"] if c["type"] == "Programmed"] == ["True"]
