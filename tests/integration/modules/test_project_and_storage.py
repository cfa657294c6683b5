"""project_services, project_info, storage_bucket and iam_member against the emulator."""

import json
import os
import stat

PRINCIPAL = ("principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/"
             "test-project-1.svc.id.goog/subject/ns/default/sa/%s")


def test_project_services(gcp):
    gcp.emu.projects["test-project-1"]["services"].discard("container.googleapis.com")
    services = ["container.googleapis.com", "compute.googleapis.com"]
    check = gcp.run("project_services", check=True, services=services)
    assert check["changed"] and check["changed_services"] == ["container.googleapis.com"]
    assert "container.googleapis.com" not in gcp.emu.projects["test-project-1"]["services"]
    result = gcp.run("project_services", services=services)
    assert result["changed"] and "container.googleapis.com" in gcp.emu.projects["test-project-1"]["services"]
    assert not gcp.run("project_services", services=services)["changed"]
    unknown = gcp.run("project_services", services=["nosuch.googleapis.com"])
    assert unknown["failed"] and "nosuch.googleapis.com" in unknown["msg"]
    bad = gcp.run("project_services", services=["container"])
    assert bad["failed"] and bad["msg"].startswith("services:")
    disabled = gcp.run("project_services", services=["container.googleapis.com"], state="absent")
    assert disabled["changed"] and "container.googleapis.com" not in gcp.emu.projects["test-project-1"]["services"]


def test_project_info(gcp):
    info = gcp.run("project_info")
    assert info["project_number"] == "123456789012" and info["workload_pool"] == "test-project-1.svc.id.goog"
    missing = gcp.run("project_info", project="no-such-project")
    assert missing["failed"] and "Permission denied" in missing["msg"]


def test_bucket_lifecycle(gcp):
    args = dict(name="test-project-1-weights", location="US")
    assert gcp.run("storage_bucket", check=True, **args)["changed"]
    assert gcp.resource("storage:b/test-project-1-weights") is None
    created = gcp.run("storage_bucket", **args)
    assert created["changed"] and created["bucket"]["uniform_bucket_level_access"] is True
    stored = gcp.resource("storage:b/test-project-1-weights")
    assert stored["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
    assert stored["iamConfiguration"]["publicAccessPrevention"] == "enforced"
    assert not gcp.run("storage_bucket", **args)["changed"]
    updated = gcp.run("storage_bucket", labels={"app": "gemma"}, **args)
    assert updated["changed"] and gcp.resource("storage:b/test-project-1-weights")["labels"] == {"app": "gemma"}
    moved = gcp.run("storage_bucket", name="test-project-1-weights", location="EU")
    assert moved["failed"] and moved["msg"].startswith("location:")
    # not empty: refused without force
    gcp.emu.store["storage:o/test-project-1-weights/config.json"] = {"name": "config.json", "bucket": args["name"]}
    refused = gcp.run("storage_bucket", state="absent", **args)
    assert refused["failed"] and "not empty" in refused["msg"]
    assert gcp.run("storage_bucket", state="absent", force=True, **args)["changed"]
    assert gcp.resource("storage:b/test-project-1-weights") is None
    bad = gcp.run("storage_bucket", name="Bad Bucket")
    assert bad["failed"] and bad["msg"].startswith("name:")


def test_bucket_iam_is_non_authoritative(gcp):
    gcp.run("storage_bucket", name="test-project-1-weights")
    reader = PRINCIPAL % "gemma-ksa"
    args = dict(resource_type="bucket", resource="test-project-1-weights", role="roles/storage.objectViewer")
    # The project's Workload Identity pool comes with its first cluster that has Workload Identity: IAM refuses
    # the principal before (the emulator as the issue threads in tests/emulator/iam.py show it), and the module says
    # what to do. Nothing is granted.
    early = gcp.run("iam_member", members=[reader], **args)
    assert early["failed"] and "Identity Pool does not exist (test-project-1.svc.id.goog)" in early["msg"], early
    assert "create the clusters first" in early["msg"], early
    assert not any(b["role"] == "roles/storage.objectViewer"
                   for b in gcp.resource("storage:iam/test-project-1-weights")["bindings"])
    gcp.run("compute_network", name="vpc", mtu=8896)
    gcp.run("compute_subnetwork", name="nodes", region="europe-west4", network="vpc", ip_cidr_range="10.0.1.0/24")
    assert gcp.run("gke_cluster", name="gke-a", location="europe-west4-a", network="vpc", subnetwork="nodes")["changed"]
    assert gcp.run("iam_member", check=True, members=[reader], **args)["changed"]
    assert not any(b["role"] == "roles/storage.objectViewer"
                   for b in gcp.resource("storage:iam/test-project-1-weights")["bindings"])
    granted = gcp.run("iam_member", members=[reader], **args)
    assert granted["changed"] and granted["added"] == [reader]
    assert not gcp.run("iam_member", members=[reader], **args)["changed"]
    # someone else's member on the same role survives our grant and our revoke
    other = "user:alice@example.com"
    assert gcp.run("iam_member", members=[other], **args)["changed"]
    assert gcp.run("iam_member", members=[reader], state="absent", **args)["changed"]
    bindings = {b["role"]: b["members"] for b in gcp.resource("storage:iam/test-project-1-weights")["bindings"]}
    assert bindings["roles/storage.objectViewer"] == [other]
    assert "roles/storage.legacyBucketOwner" in bindings


def test_project_iam_member_and_concurrency(gcp):
    """Two plays granting on the same project policy at once: both grants land (etag retry)."""
    members = ["serviceAccount:%s" % gcp.run("iam_service_account", account_id=name)["email"]
               for name in ("member-a", "member-b")]
    # the first write is held 5 s before its etag is checked: the other process reads and writes meanwhile (two
    # processes that import the client libraries on a busy machine may start more than a second apart)
    gcp.fault("cloudresourcemanager.projects.setIamPolicy", delay=5.0, count=1)
    # two processes, as two Ansible forks would be (in-process runs share stdout and arguments)
    procs = [gcp.start("iam_member", role="roles/container.admin", members=[m]) for m in members]
    results = [gcp.finish(proc) for proc in procs]
    assert len(results) == 2 and all(r["changed"] for r in results), results
    writes = [e["status"] for e in gcp.requests() if e["method_id"] == "cloudresourcemanager.projects.setIamPolicy"]
    assert 409 in writes, "the two grants did not race (%s); the test proves nothing" % writes
    policy = gcp.resource("cloudresourcemanager:iam/test-project-1")
    bindings = {b["role"]: sorted(b["members"]) for b in policy["bindings"]}
    assert bindings["roles/container.admin"] == members
    assert bindings["roles/owner"] == ["user:owner@example.com"]


def test_a_service_agent_is_generated_before_it_is_granted(gcp):
    """IAM refuses a policy naming a service agent that does not exist yet (right after its API is enabled, say);
    service_agent_of has Service Usage generate it first, and a re-run calls nothing but the policy read."""
    agent = "serviceAccount:service-123456789012@gcp-sa-multiclusteringress.iam.gserviceaccount.com"
    args = dict(role="roles/container.admin", members=[agent])
    refused = gcp.run("iam_member", **args)
    assert refused["failed"] and "does not exist" in refused["msg"], refused
    granted = gcp.run("iam_member", service_agent_of="multiclusteringress.googleapis.com", **args)
    assert granted["changed"] and granted["added"] == [agent], granted
    policy = gcp.resource("cloudresourcemanager:iam/%s" % gcp.project)
    assert any(agent in b["members"] for b in policy["bindings"] if b["role"] == "roles/container.admin")
    gcp.control("DELETE", "requests")
    assert not gcp.run("iam_member", service_agent_of="multiclusteringress.googleapis.com", **args)["changed"]
    assert not [r for r in gcp.requests() if "generateServiceIdentity" in r["path"]]


def test_iam_bad_input(gcp):
    before = len(gcp.requests())
    result = gcp.run("iam_member", role="storage.objectViewer", members=["alice@example.com"])
    assert result["failed"] and "role:" in result["msg"] and "members:" in result["msg"]
    assert len(gcp.requests()) == before


def test_credentials_problems(gcp, tmp_path):
    missing = gcp.run("project_info", auth=False, auth_kind="serviceaccount",
                      service_account_file=str(tmp_path / "nope.json"))
    assert missing["failed"] and "service_account_file" in missing["msg"] and "does not exist" in missing["msg"]
    unreadable = tmp_path / "locked.json"
    unreadable.write_text(json.dumps({"type": "service_account"}))
    os.chmod(unreadable, 0)
    # root reads any file, so for root an unreadable path is a directory
    path = str(unreadable) if os.geteuid() != 0 else str(tmp_path)
    result = gcp.run("project_info", auth=False, auth_kind="serviceaccount", service_account_file=path)
    assert result["failed"] and "cannot be read" in result["msg"], result
    os.chmod(unreadable, stat.S_IRUSR | stat.S_IWUSR)
    not_key = gcp.run("project_info", auth=False, auth_kind="serviceaccount", service_account_file=str(unreadable))
    assert not_key["failed"] and "incomplete or damaged" in not_key["msg"]
    no_project = gcp.run("project_info", project="")
    assert no_project["failed"] and no_project["msg"].startswith("project is required")
    bad_token = gcp.run("project_info", auth=False, auth_kind="accesstoken", access_token="not-a-token")
    assert bad_token["failed"] and "credentials were refused" in bad_token["msg"]
    assert "not-a-token" not in json.dumps(bad_token)


def test_access_token_and_contents(gcp):
    gcp.control("POST", "tokens", {"token": "ya29.test-token"})
    assert gcp.run("project_info", auth=False, access_token="ya29.test-token")["project_number"] == "123456789012"
    with open(gcp.key_file) as handle:
        contents = handle.read()
    result = gcp.run("project_info", auth=False, service_account_contents=contents)
    assert result["project_number"] == "123456789012"
    assert "PRIVATE KEY" not in json.dumps(result)


def test_service_account_lifecycle(gcp):
    """iam_service_account: check mode creates nothing, creation, a no-op re-run, an update of the description
    only, deletion; IAM (and GKE) refuse an account that does not exist, so the account comes first."""
    email = "gke-inference-nodes@%s.iam.gserviceaccount.com" % gcp.project
    refused = gcp.run("iam_member", role="roles/monitoring.metricWriter", members=["serviceAccount:" + email])
    assert refused["failed"] and "does not exist" in refused["msg"], refused
    args = dict(account_id="gke-inference-nodes", display_name="GKE nodes", description="nodes")
    planned = gcp.run("iam_service_account", check=True, **args)
    assert planned["changed"] and planned["email"] == email and not gcp.emu.projects[gcp.project].get("service_accounts")
    created = gcp.run("iam_service_account", **args)
    assert created["changed"] and created["service_account"]["email"] == email, created
    assert created["diff"]["after"]["displayName"] == "GKE nodes"
    gcp.control("DELETE", "requests")
    assert not gcp.run("iam_service_account", **args)["changed"]
    assert not gcp.requests(mutating=True)
    updated = gcp.run("iam_service_account", **dict(args, description="the nodes' own"))
    assert updated["changed"] and updated["changes"] == ["description"], updated
    assert updated["service_account"]["displayName"] == "GKE nodes"
    assert gcp.run("iam_member", role="roles/monitoring.metricWriter", members=["serviceAccount:" + email])["changed"]
    assert gcp.run("iam_service_account", account_id="gke-inference-nodes", state="absent")["changed"]
    assert not gcp.run("iam_service_account", account_id="gke-inference-nodes", state="absent")["changed"]


def test_service_account_bad_input(gcp):
    before = len(gcp.requests())
    result = gcp.run("iam_service_account", account_id="Nodes_1", display_name="x" * 101)
    assert result["failed"] and "account_id: 'Nodes_1'" in result["msg"] and "display_name:" in result["msg"], result
    assert len(gcp.requests()) == before


def test_preflight_reads_accelerator_quota_from_cloud_quotas(gcp):
    """Quota Compute Engine's regions do not report is read from Cloud Quotas: the DimensionsInfo that applies is
    the most specific one naming the region and the family, else the one that leaves them out."""
    gcp.emu.projects["test-project-1"]["services"].add("cloudquotas.googleapis.com")
    gcp.control("POST", "config", {"cloud_quotas": {"GPUS-PER-GPU-FAMILY-per-project-region": [
        {"dimensions": {"region": "us-east5", "gpu_family": "NVIDIA_H100"}, "value": 8},
        {"dimensions": {"region": "us-east5"}, "value": 100}]}})
    h100 = dict(metrics=[], quota_id="GPUS-PER-GPU-FAMILY-per-project-region", dimensions={"gpu_family": "NVIDIA_H100"})
    result = gcp.run("preflight_info", quota=[dict(h100, region="us-east5", needed=12),
                                              dict(h100, region="europe-west4", needed=12)])
    limits = [(q["region"], q["limit"], q["usage"]) for q in result["quota"]]
    assert limits == [("us-east5", 8.0, None), ("europe-west4", 16.0, None)]
    assert result["problems"] == [
        "quota: region us-east5 allows 8 of GPUS-PER-GPU-FAMILY-per-project-region gpu_family=NVIDIA_H100 but the "
        "node pool needs 12; request more quota for GPUS-PER-GPU-FAMILY-per-project-region gpu_family=NVIDIA_H100 in "
        "us-east5 (the console (IAM & Admin > Quotas)), or lower the node count."], result
    # another family is not the H100's: the catch-all value of the quota (0 in the emulated project) applies
    other = gcp.run("preflight_info", quota=[dict(h100, region="europe-west4", needed=1, dimensions={"gpu_family": "NVIDIA_B200"})])
    assert other["quota"][0]["limit"] == 0.0 and "allows 0 of" in other["problems"][0]
    # a quota id Cloud Quotas does not know is a warning that names where to look, not a problem
    unknown = gcp.run("preflight_info", quota=[dict(h100, region="us-east5", needed=1, quota_id="NO-SUCH-per-project-region",
                                                    elsewhere="the H100 page")])
    assert unknown["problems"] == [] and unknown["quota"] == []
    assert unknown["unverified"][0].startswith("quota: not checked in us-east5 - ") and \
        unknown["unverified"][0].endswith("check 1 units of the H100 page before deploying."), unknown
