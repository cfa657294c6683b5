"""Unit tests of the shared core: retry, waiter, diff, error translation, credential selection."""

import json
import os

import pytest
from google.api_core import exceptions as gexc

from ansible_collections.gke_inference.multicluster.plugins.module_utils import auth, diff, errors, operations, retry
from ansible_collections.gke_inference.multicluster.plugins.module_utils import validation


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def policy(clock, **kw):
    return retry.RetryPolicy(sleep=clock.sleep, clock=clock, jitter=lambda: 1.0, **kw)


# -- retry --------------------------------------------------------------------------------------
@pytest.mark.parametrize("exc,expected", [
    (gexc.TooManyRequests("slow down"), True),
    (gexc.ServiceUnavailable("try later"), True),
    (gexc.GatewayTimeout("timeout"), True),
    (gexc.FailedPrecondition("Cluster is running incompatible operation operation-123."), True),
    (gexc.BadRequest("The resource 'projects/p/global/networks/n' is not ready"), True),
    (gexc.BadRequest("Invalid value for field 'resource.name'"), False),
    (gexc.NotFound("nope"), False),
    (gexc.Forbidden("denied"), False),
    (ValueError("bug"), False),
])
def test_is_retryable(exc, expected):
    assert retry.is_retryable(exc) is expected


def test_retry_backs_off_then_succeeds():
    clock = Clock()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 4:
            raise gexc.ServiceUnavailable("busy")
        return "ok"
    assert policy(clock, initial=1, maximum=3).call(flaky) == "ok"
    assert clock.sleeps == [1, 2, 3]


def test_retry_gives_up_at_deadline_and_counts_attempts():
    clock = Clock()

    def always():
        raise gexc.TooManyRequests("quota")
    with pytest.raises(gexc.TooManyRequests) as info:
        policy(clock, initial=1, maximum=4, deadline=10).call(always)
    assert sum(clock.sleeps) <= 10
    assert info.value.retry_attempts == len(clock.sleeps) + 1


def bad_request():
    raise gexc.BadRequest("bad field")


def test_retry_does_not_retry_permanent_errors():
    clock = Clock()
    with pytest.raises(gexc.BadRequest):
        policy(clock).call(bad_request)
    assert clock.sleeps == []


# -- waiter -------------------------------------------------------------------------------------
class Op:
    def __init__(self, polls_left, error=None):
        self.name, self.polls_left, self.error = "op-1", polls_left, error


def state(op):
    return op.polls_left == 0, op.error if op.polls_left == 0 else None


def poll(op):
    op.polls_left -= 1
    return op


def test_waiter_polls_with_growing_interval_until_done():
    """An eighth of the time waited so far, within poll_initial and poll_max."""
    clock = Clock()
    waiter = operations.Waiter(policy(clock), timeout=100, poll_initial=1, poll_max=2, sleep=clock.sleep, clock=clock)
    assert waiter.wait(Op(14), poll, state, "create x").polls_left == 0
    assert clock.sleeps == [1] * 9 + [1.125, 1.265625, 1.423828125, 1.601806640625, 1.802032470703125]


def test_waiter_raises_operation_error():
    clock = Clock()
    waiter = operations.Waiter(policy(clock), sleep=clock.sleep, clock=clock)
    with pytest.raises(operations.OperationError) as info:
        waiter.wait(Op(1, error=("[GCE_STOCKOUT] no capacity", "GCE_STOCKOUT", None)), poll, state, "create pool")
    assert info.value.code == "GCE_STOCKOUT"


def test_waiter_times_out_with_resumable_message():
    clock = Clock()
    waiter = operations.Waiter(policy(clock), timeout=5, poll_initial=1, poll_max=1, sleep=clock.sleep, clock=clock)
    with pytest.raises(operations.OperationTimeout) as info:
        waiter.wait(Op(100), poll, state, "create cluster gke-a")
    assert "still running after 5 s" in str(info.value) and "re-run" in str(info.value)


def test_waiter_retries_transient_poll_errors():
    clock = Clock()
    failures = [gexc.ServiceUnavailable("x")]

    def flaky_poll(op):
        if failures:
            raise failures.pop()
        return poll(op)
    waiter = operations.Waiter(policy(clock), sleep=clock.sleep, clock=clock)
    assert waiter.wait(Op(1), flaky_poll, state, "x").polls_left == 0


# -- diff ---------------------------------------------------------------------------------------
def test_compare_only_managed_fields_and_unordered_lists():
    actual = {"name": "fw", "priority": 1000, "source_ranges": ["b", "a"], "id": "123", "log_config": {"enable": False}}
    assert diff.compare({"name": "fw", "source_ranges": ["a", "b"], "description": None}, actual) == {}
    changes = diff.compare({"priority": 900, "log_config": {"enable": True}}, actual)
    assert changes == {"priority": (1000, 900), "log_config.enable": (False, True)}


def test_compare_empty_desired_matches_missing():
    assert diff.compare({"labels": {}, "tags": []}, {}) == {}
    assert diff.compare({"allowed": [{"p": "all"}]}, {"allowed": [{"p": "all", "ports": []}]}) == {}
    # int64 fields come back as strings, unset strings as ""
    assert diff.compare({"acc": [{"count": 2}]}, {"acc": [{"count": "2", "partition": ""}]}) == {}


def test_merged_and_diff_result():
    after = diff.merged({"a": 1, "b": {"c": 1, "d": 2}}, {"b": {"c": 3}, "e": None})
    assert after == {"a": 1, "b": {"c": 3, "d": 2}}
    assert diff.diff_result(None, after) == {"before": {}, "after": after}


# -- error translation --------------------------------------------------------------------------
def forbidden(message, reason=None, metadata=None):
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "metadata": metadata or {}}]
    return gexc.Forbidden(message, details=details if reason else [])


def test_explain_api_disabled_names_the_service():
    exc = forbidden("Compute Engine API has not been used in project 1 before or it is disabled.",
                    "SERVICE_DISABLED", {"service": "compute.googleapis.com"})
    message = errors.explain(exc, "create network vpc")
    assert message.startswith("Failed to create network vpc:") and "Enable compute.googleapis.com" in message


def test_explain_permission_names_the_role():
    exc = forbidden("Required 'compute.firewalls.create' permission for 'projects/p/global/firewalls/fw'")
    assert "roles/compute.securityAdmin" in errors.explain(exc, "create firewall fw")
    exc = forbidden("Permission 'container.clusters.create' denied on resource")
    assert "roles/container.admin" in errors.explain(exc, "create cluster")


def test_explain_stockout_and_quota():
    exc = operations.OperationError("[GCE_STOCKOUT] The zone 'projects/p/zones/us-east5-b' does not have enough "
                                    "resources available to fulfill the request.", "GCE_STOCKOUT")
    context = {"zone": "us-east5-b", "machine_type": "ct6e-standard-4t", "other_zones": ["us-east5-a", "us-east5-c"]}
    message = errors.explain(exc, "create node pool tpu", context)
    assert "us-east5-b has no capacity for ct6e-standard-4t" in message and "us-east5-a, us-east5-c" in message
    exc = operations.OperationError("Quota 'TPU_V6E_LITEPOD_CHIPS' exceeded. Limit: 0.0 in region us-east5.",
                                    "QUOTA_EXCEEDED", 403)
    assert "Quota exhausted (TPU_V6E_LITEPOD_CHIPS)" in errors.explain(exc, "create node pool tpu")


def test_explain_throttled_after_retries():
    exc = gexc.TooManyRequests("Rate Limit Exceeded")
    exc.retry_attempts = 7
    assert "after 7 attempts" in errors.explain(exc, "read network")


# -- credentials --------------------------------------------------------------------------------
@pytest.mark.parametrize("params,kind", [
    ({}, "application"),
    ({"access_token": "t"}, "accesstoken"),
    ({"service_account_file": "/k.json"}, "serviceaccount"),
    ({"service_account_contents": "{}"}, "serviceaccount"),
    ({"auth_kind": "machineaccount", "access_token": "t"}, "machineaccount"),
])
def test_select_auth_kind(params, kind):
    assert auth.select_auth_kind(params) == kind


def test_awx_environment_reaches_module_params(monkeypatch, tmp_path):
    """AWX's GCE credential sets GCE_CREDENTIALS_FILE_PATH, GCP_AUTH_KIND and GCP_PROJECT: the
    modules' environment fallbacks turn them into credentials without any option set."""
    from ansible.module_utils.basic import env_fallback
    from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import COMMON_ARGS

    key = tmp_path / "awx.json"
    monkeypatch.setenv("GCE_CREDENTIALS_FILE_PATH", str(key))
    monkeypatch.setenv("GCP_AUTH_KIND", "serviceaccount")
    monkeypatch.setenv("GCP_PROJECT", "awx-project")
    monkeypatch.delenv("GCP_SERVICE_ACCOUNT_FILE", raising=False)
    resolved = {}
    for name, spec in COMMON_ARGS.items():
        fallback = spec.get("fallback")
        try:
            resolved[name] = env_fallback(*fallback[1]) if fallback else None
        except Exception:  # AnsibleFallbackNotFound
            resolved[name] = None
    assert resolved["service_account_file"] == str(key)
    assert resolved["auth_kind"] == "serviceaccount" and resolved["project"] == "awx-project"
    with pytest.raises(auth.CredentialsError, match="does not exist"):
        auth.get_credentials(resolved)
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    key.write_text(json.dumps({"type": "service_account", "project_id": "awx-project", "private_key": pem,
                               "client_email": "awx@awx-project.iam.gserviceaccount.com", "token_uri": "http://127.0.0.1:1/token"}))
    creds, project = auth.get_credentials(resolved)
    assert creds.service_account_email == "awx@awx-project.iam.gserviceaccount.com" and project == "awx-project"


def _service_account_key(email="sa@p.iam.gserviceaccount.com"):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "p", "private_key": pem, "private_key_id": "k1",
            "client_email": email, "token_uri": "http://127.0.0.1:1/token"}


@pytest.fixture
def private_tmp(monkeypatch, tmp_path):
    """The system's temporary directory (where private_folder lives) moved to tmp_path."""
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def watch_key_loads(monkeypatch):
    """From now on, whether each load of a private key (cryptography's load_pem_private_key) skipped the check."""
    from cryptography.hazmat.primitives import serialization

    loads, real = [], serialization.load_pem_private_key

    def spy(data, password=None, *args, **kwargs):
        loads.append(kwargs.get("unsafe_skip_rsa_key_validation", False))
        return real(data, password, *args, **kwargs)

    monkeypatch.setattr(serialization, "load_pem_private_key", spy)
    return loads


def test_a_service_account_key_is_checked_in_full_once(monkeypatch, private_tmp):
    """The first load of a key runs cryptography's consistency check and leaves a marker named after the key's hash
    (and nothing of the key); the next load of the same bytes skips the check. The credentials sign exactly as
    google-auth's own."""
    import hashlib
    from google.oauth2 import service_account

    info = _service_account_key()
    own = service_account.Credentials.from_service_account_info(info)
    loads = watch_key_loads(monkeypatch)
    first, project = auth.get_credentials({"service_account_contents": json.dumps(info)})
    second = auth.get_credentials({"service_account_contents": json.dumps(info)})[0]
    assert loads == [False, True] and project == "p"
    folder = private_tmp / ("gke-inference-turbo-%d" % os.getuid()) / "checked-keys"
    assert [p.name for p in folder.iterdir()] == [hashlib.sha256(info["private_key"].encode()).hexdigest()]
    assert all(p.stat().st_size == 0 for p in folder.iterdir())
    assert oct(folder.stat().st_mode & 0o777) == "0o700" and oct(folder.parent.stat().st_mode & 0o777) == "0o700"
    for creds in (first, second):
        assert creds.service_account_email == info["client_email"] and creds.signer.key_id == "k1"
        assert creds.signer.sign(b"payload") == own.signer.sign(b"payload")
        assert creds.project_id == "p" and creds._token_uri == info["token_uri"]
    other = _service_account_key("other@p.iam.gserviceaccount.com")
    auth.get_credentials({"service_account_contents": json.dumps(other)})
    assert loads == [False, True, False] and len(list(folder.iterdir())) == 2


def test_a_damaged_key_is_refused_and_leaves_no_marker(private_tmp):
    info = _service_account_key()
    info["private_key"] = info["private_key"].replace("A", "B", 40)
    with pytest.raises(auth.CredentialsError, match="incomplete or damaged"):
        auth.get_credentials({"service_account_contents": json.dumps(info)})
    folder = private_tmp / ("gke-inference-turbo-%d" % os.getuid()) / "checked-keys"
    assert list(folder.iterdir()) == []


def test_no_marker_in_a_folder_others_can_enter(monkeypatch, private_tmp):
    base = private_tmp / ("gke-inference-turbo-%d" % os.getuid())
    base.mkdir(mode=0o755)
    base.chmod(0o755)
    loads = watch_key_loads(monkeypatch)
    info = _service_account_key()
    for _attempt in range(2):
        creds = auth.get_credentials({"service_account_contents": json.dumps(info)})[0]
        assert creds.service_account_email == info["client_email"]
    assert loads == [False, False] and list(base.iterdir()) == []


def test_credentials_errors_name_the_field(tmp_path):
    with pytest.raises(auth.CredentialsError, match="^service_account_contents: not valid JSON"):
        auth.get_credentials({"service_account_contents": "{nope"})
    user = tmp_path / "user.json"
    user.write_text(json.dumps({"type": "authorized_user"}))
    with pytest.raises(auth.CredentialsError, match="not a service-account key"):
        auth.get_credentials({"service_account_file": str(user)})
    with pytest.raises(auth.CredentialsError, match="access_token"):
        auth.get_credentials({"auth_kind": "accesstoken"})
    with pytest.raises(auth.CredentialsError, match="auth_kind: 'bogus'"):
        auth.get_credentials({"auth_kind": "bogus"})


def test_adc_missing_is_explained(monkeypatch, tmp_path):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")
    monkeypatch.setenv("GCE_METADATA_IP", "127.0.0.1:1")
    monkeypatch.setenv("NO_GCE_CHECK", "True")
    with pytest.raises(auth.CredentialsError, match="application-default login"):
        auth.get_credentials({})


# -- validation ---------------------------------------------------------------------------------
def test_validation_messages():
    assert validation.cidr_error("x", "10.0.1.0/24") is None
    assert validation.cidr_error("x", "10.0.1.7/24").startswith("x: '10.0.1.7/24' is not a valid IPv4 CIDR")
    assert "not in region 'us-east5'" in validation.zone_error("zone", "europe-west4-a", "us-east5")
    assert validation.zone_error("zone", "us-east5-b", "us-east5") is None
    assert validation.name_error("name", "Bad_Name").startswith("name: 'Bad_Name'")
    assert validation.overlaps([("a", "10.0.0.0/16"), ("b", "10.0.1.0/24"), ("c", "10.1.0.0/24")]) == [
        "a (10.0.0.0/16) overlaps b (10.0.1.0/24): give every node and proxy-only subnet its own range."]


def test_a_client_library_too_old_names_the_package_to_install():
    class ClusterManagerClient:  # pylint: disable=too-few-public-methods
        def create_node_pool(self):
            raise ValueError("Unknown field for NodeNetworkConfig: accelerator_network_profile")
    ClusterManagerClient.__module__ = "google.cloud.container_v1.services.cluster_manager.client"
    client = ClusterManagerClient()
    with pytest.raises(ValueError) as raised:
        client.create_node_pool()
    message = errors.library_too_old(raised.value, client.create_node_pool, "create node pool p")
    assert message.startswith("Failed to create node pool p: the installed google-cloud-container ")
    assert "accelerator_network_profile" in message and "Install google-cloud-container>=2.65.0" in message
    assert errors.library_too_old(ValueError("something else"), client.create_node_pool, "x") is None


def test_the_library_bounds_are_those_of_requirements_txt():
    import os  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
    with open(os.path.join(root, "requirements.txt"), encoding="utf-8") as handle:
        bounds = dict(re.findall(r"^([a-z0-9-]+)(?:\[[a-z]+\])?>=([0-9.]+)", handle.read(), re.M))
    for _prefix, package, minimum in errors.LIBRARIES:
        assert tuple(int(x) for x in bounds[package].split(".")) == tuple(int(x) for x in minimum.split("."))[
            :len(bounds[package].split("."))], (package, bounds[package], minimum)


def test_the_execution_environment_pins_fall_within_the_collection_ranges():
    import os  # pylint: disable=import-outside-toplevel
    import re  # pylint: disable=import-outside-toplevel

    from packaging.requirements import Requirement  # pylint: disable=import-outside-toplevel

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

    def requirements(name):
        with open(os.path.join(root, name), encoding="utf-8") as handle:
            return {r.name: r for r in (Requirement(line) for line in handle.read().splitlines()
                                        if line.strip() and not line.startswith(("#", "-r")))}
    ranges, pins = requirements("requirements.txt"), requirements("awx/ee-python-requirements.txt")
    assert set(pins) == set(ranges)
    for name, pin in pins.items():
        version = str(pin.specifier).lstrip("=")
        assert ranges[name].specifier.contains(version), (name, version, str(ranges[name].specifier))
    with open(os.path.join(root, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = handle.read()
    with open(os.path.join(root, "awx", "ee-requirements.yml"), encoding="utf-8") as handle:
        ee = handle.read()
    assert 'kubernetes.core: ">=5.0.0,<7.0.0"' in galaxy and re.search(r'kubernetes.core\n\s+version: "6\.2\.0"', ee)
