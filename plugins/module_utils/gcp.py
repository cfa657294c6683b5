# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base of every module: shared options, credentials, one client factory, retries, waiting and
error translation. Modules never build credentials or clients themselves."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib
import traceback

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.gke_inference.multicluster.plugins.module_utils.auth import (
    AUTH_KINDS, CredentialsError, get_credentials, keep_on_endpoint)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import diff_result
from ansible_collections.gke_inference.multicluster.plugins.module_utils.errors import explain, library_too_old
from ansible_collections.gke_inference.multicluster.plugins.module_utils.operations import (
    OperationError, OperationTimeout, Waiter, compute_state, container_state, longrunning_state)
from ansible_collections.gke_inference.multicluster.plugins.module_utils.retry import RetryPolicy
from ansible_collections.gke_inference.multicluster.plugins.module_utils import turbo
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import project_error

# Under ansible-playbook, hand the module to this run's module host before importing Google's client
# libraries (module_utils/turbo.py): it has them loaded. Elsewhere (tests, ansible-doc) this returns at once.
turbo.delegate()

try:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exceptions
    from google.api_core.gapic_v1.client_info import ClientInfo
    HAS_GOOGLE = True
    GOOGLE_IMPORT_ERROR = None
except ImportError:
    HAS_GOOGLE = False
    GOOGLE_IMPORT_ERROR = traceback.format_exc()

COLLECTION_VERSION = "0.1.0"
USER_AGENT = "gke_inference.multicluster/%s" % COLLECTION_VERSION

COMMON_ARGS = dict(
    project=dict(type="str", fallback=(env_fallback, ["GCP_PROJECT", "GCE_PROJECT", "GOOGLE_CLOUD_PROJECT"])),
    auth_kind=dict(type="str", choices=list(AUTH_KINDS), fallback=(env_fallback, ["GCP_AUTH_KIND"])),
    service_account_file=dict(type="path", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_FILE",
                                                                    "GCE_CREDENTIALS_FILE_PATH"])),
    service_account_contents=dict(type="jsonarg", no_log=True,
                                  fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_CONTENTS"])),
    service_account_email=dict(type="str", fallback=(env_fallback, ["GCP_SERVICE_ACCOUNT_EMAIL"])),
    access_token=dict(type="str", no_log=True, fallback=(env_fallback, ["GCP_ACCESS_TOKEN"])),
    scopes=dict(type="list", elements="str", fallback=(env_fallback, ["GCP_SCOPES"])),
    api_endpoint=dict(type="str", fallback=(env_fallback, ["GKE_INFERENCE_API_ENDPOINT"])),
    operation_poll_max=dict(type="float", default=10.0),
)

# short name -> (python module, class) of Google's official client libraries
CLIENTS = {
    "networks": ("google.cloud.compute_v1", "NetworksClient"),
    "subnetworks": ("google.cloud.compute_v1", "SubnetworksClient"),
    "addresses": ("google.cloud.compute_v1", "AddressesClient"),
    "firewalls": ("google.cloud.compute_v1", "FirewallsClient"),
    "routers": ("google.cloud.compute_v1", "RoutersClient"),
    "regions": ("google.cloud.compute_v1", "RegionsClient"),
    "global_operations": ("google.cloud.compute_v1", "GlobalOperationsClient"),
    "region_operations": ("google.cloud.compute_v1", "RegionOperationsClient"),
    "zone_operations": ("google.cloud.compute_v1", "ZoneOperationsClient"),
    "container": ("google.cloud.container_v1", "ClusterManagerClient"),
    "gkehub": ("google.cloud.gkehub_v1", "GkeHubClient"),
    "projects": ("google.cloud.resourcemanager_v3", "ProjectsClient"),
    "serviceusage": ("google.cloud.service_usage_v1", "ServiceUsageClient"),
    "cloudquotas": ("google.cloud.cloudquotas_v1", "CloudQuotasClient"),
}


def to_dict(message):
    """A proto-plus message as a plain dict with snake_case keys and enum names."""
    return type(message).to_dict(message, use_integers_for_enums=False, preserving_proto_field_name=True)


class GcpModule(AnsibleModule):
    """AnsibleModule with the collection's shared options and Google Cloud plumbing."""

    def __init__(self, argument_spec, timeout=None, **kwargs):
        spec = dict(COMMON_ARGS)
        if timeout is not None:
            spec["timeout"] = dict(type="int", default=timeout)
        spec.update(argument_spec)
        super(GcpModule, self).__init__(argument_spec=spec, **kwargs)
        if not HAS_GOOGLE:
            self.fail_json(msg=missing_required_lib("google-api-core and Google's google-cloud-* client libraries "
                                                    "(pip install -r requirements.txt of the collection)"),
                           exception=GOOGLE_IMPORT_ERROR)
        if self.params["operation_poll_max"] <= 0:
            self.fail_json(msg="operation_poll_max: %s is not a number of seconds above 0; leave it unset (10) or set "
                               "gcp_operation_poll_max in the inventory to, for example, 1." % self.params["operation_poll_max"])
        self.retry = RetryPolicy()
        self.waiter = Waiter(self.retry, timeout=self.params.get("timeout") or 1800,
                             poll_max=self.params["operation_poll_max"])
        self._clients = {}
        self._credentials = None
        self._session = None

    # -- identity ------------------------------------------------------------------------------
    @property
    def project(self):
        error = project_error("project", self.params.get("project"))
        if error:
            self.fail_json(msg=error)
        return self.params["project"]

    @property
    def credentials(self):
        if self._credentials is None:
            try:
                self._credentials = get_credentials(self.params)[0]
                if self.params.get("api_endpoint"):
                    keep_on_endpoint(self._credentials)
            except CredentialsError as exc:
                self.fail_json(msg=str(exc))
        return self._credentials

    def _client_options(self):
        endpoint = self.params.get("api_endpoint")
        if endpoint and "://" not in endpoint:
            self.fail_json(msg="api_endpoint: '%s' needs its scheme, for example http://127.0.0.1:8089." % endpoint)
        return {"api_endpoint": endpoint} if endpoint else None

    def client(self, name):
        """A ready client for ``name`` (see CLIENTS, plus ``storage``), REST transport, shared options."""
        if name not in self._clients:
            info = ClientInfo(user_agent=USER_AGENT)
            try:
                if name == "storage":
                    from google.cloud import storage
                    self._clients[name] = storage.Client(project=self.project, credentials=self.credentials,
                                                         client_options=self._client_options(), client_info=info)
                else:
                    module_name, class_name = CLIENTS[name]
                    cls = getattr(importlib.import_module(module_name), class_name)
                    self._clients[name] = cls(transport="rest", credentials=self.credentials,
                                              client_options=self._client_options(), client_info=info)
            except ImportError:
                self.fail_json(msg=missing_required_lib(CLIENTS.get(name, ("google-cloud-storage",))[0]),
                               exception=traceback.format_exc())
        return self._clients[name]

    def exit_absent(self, actual, delete, key):
        """``state: absent``: call ``delete()`` when the resource exists (not in check mode) and exit,
        returning the resource under ``key`` as empty."""
        if actual is None:
            self.exit_json(changed=False, diff=diff_result({}, {}), **{key: {}})
        if not self.check_mode:
            delete()
        self.exit_json(changed=True, diff=diff_result(actual, {}), **{key: {}})

    # -- calls ---------------------------------------------------------------------------------
    def fail_api(self, exc, action, context=None, **extra):
        self.fail_json(msg=explain(exc, action, context), error_code=getattr(exc, "code", None),
                       error_reason=getattr(exc, "reason", None), **extra)

    def call(self, action, func, *args, **kwargs):
        """``func(*args, **kwargs)`` under the retry policy; an API error fails the module with a
        translated message. ``context`` (keyword) feeds the capacity-error messages."""
        context = kwargs.pop("context", None)
        return self._guarded(action, context, False, func, *args, **kwargs)

    def get_or_none(self, action, func, *args, **kwargs):
        """Like :meth:`call`, but a 404 answers None."""
        return self._guarded(action, None, True, func, *args, **kwargs)

    def _guarded(self, action, context, missing_ok, func, *args, **kwargs):
        try:
            return self.retry.call(func, *args, **kwargs)
        except gexc.NotFound as exc:
            if missing_ok:
                return None
            self.fail_api(exc, action, context)
        except gexc.GoogleAPICallError as exc:
            self.fail_api(exc, action, context)
        except gexc.RetryError as exc:
            self.fail_json(msg="Failed to %s: %s" % (action, exc))
        except (ValueError, KeyError, TypeError) as exc:
            message = library_too_old(exc, func, action)
            if message is None:
                raise
            self.fail_json(msg=message)
        except auth_exceptions.GoogleAuthError as exc:
            self.fail_json(msg="Failed to %s: the credentials were refused or could not be refreshed (%s). Check "
                               "auth_kind and service_account_file / access_token (an access token expires after "
                               "an hour)." % (action, exc))

    def rest(self, host, method, path, action, missing_ok=False, conflict_ok=False, **kwargs):
        """A REST call to ``https://<host>`` (or the api_endpoint override) for what the client libraries do
        not offer over REST (Service Usage v1beta1, IAM v1 service accounts), with the module's credentials,
        under the same retry policy and error messages as :meth:`call`; a 404 answers None with
        ``missing_ok``, a 409 (already exists) with ``conflict_ok``."""
        from google.auth.transport.requests import AuthorizedSession

        if self._session is None:
            self._session = AuthorizedSession(self.credentials)
        base = (self.params.get("api_endpoint") or "https://" + host).rstrip("/")

        def request():
            response = self._session.request(method, base + path, timeout=60, **kwargs)
            if response.status_code == 409 and conflict_ok:
                return None
            if response.status_code >= 400:
                raise gexc.from_http_response(response)
            return response.json() if response.content else {}
        return self._guarded(action, None, missing_ok, request)

    def service_identity(self, service):
        """Have Service Usage create ``service``'s service agent for the project (if it does not exist yet)
        and return its email (v1beta1 only, which the client library does not have), waiting for the
        operation with the shared waiter."""
        host, action = "serviceusage.googleapis.com", "create the service agent of %s" % service
        op = self.rest(host, "POST", "/v1beta1/projects/%s/services/%s:generateServiceIdentity"
                       % (self.project, service), action, json={})

        def state(current):
            if not current.get("done"):
                return False, None
            error = current.get("error")
            return True, ((error.get("message"), error.get("code"), None) if error else None)
        done = self._wait(op, lambda current: self.rest(host, "GET", "/v1beta1/" + current["name"], action),
                          state, action)
        return (done.get("response") or {}).get("email")

    # -- waiting -------------------------------------------------------------------------------
    def _wait(self, op, poll, state, action, context=None):
        try:
            return self.waiter.wait(op, poll, state, action)
        except OperationError as exc:
            self.fail_api(exc, action, context)
        except OperationTimeout as exc:
            self.fail_json(msg=str(exc), operation=getattr(op, "name", None))
        except gexc.GoogleAPICallError as exc:
            self.fail_api(exc, "poll the operation of '%s'" % action, context)
        except auth_exceptions.GoogleAuthError as exc:
            self.fail_json(msg="Failed to poll the operation of '%s': credentials refused (%s)." % (action, exc))

    def wait_resource(self, resource, read, state, action, context=None):
        """Wait for a resource itself (no operation to follow): ``read(previous)`` reads it again and
        ``state(resource)`` says ``(done, error)`` as for an operation."""
        return self._wait(resource, read, state, action, context)

    def wait_compute(self, op, action, context=None):
        project = self.project
        if op.zone:
            client, scope = self.client("zone_operations"), {"zone": op.zone.rsplit("/", 1)[-1]}
        elif op.region:
            client, scope = self.client("region_operations"), {"region": op.region.rsplit("/", 1)[-1]}
        else:
            client, scope = self.client("global_operations"), {}

        def poll(current):
            return client.get(project=project, operation=current.name, **scope)
        return self._wait(op, poll, compute_state, action, context)

    def wait_container(self, op, action, location, context=None, watch=None):
        """Wait for a container operation. ``watch()``, called at every poll, may return an error
        ``(message, code, http_status)`` to stop waiting early (a node pool stuck on a stockout)."""
        client = self.client("container")
        name = "projects/%s/locations/%s/operations/%s" % (self.project, location, op.name)

        def poll(current):
            return client.get_operation(name=name)

        def state(current):
            done, error = container_state(current)
            if not done and watch is not None:
                problem = watch()
                if problem:
                    return True, problem
            return done, error
        return self._wait(op, poll, state, action, context)

    def wait_longrunning(self, op, client_name, action, context=None):
        """Wait for a google.longrunning operation (a raw ``operations_pb2.Operation`` or an api_core
        ``Operation`` future) of the ``gkehub`` or ``serviceusage`` client."""
        raw = getattr(op, "operation", op)
        operations = self.client(client_name).transport.operations_client

        def poll(current):
            return operations.get_operation(current.name)
        return self._wait(raw, poll, longrunning_state, action, context)
