# -*- coding: utf-8 -*-
# Copyright (c) 2026 gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes objects for the collection's own modules: one client from a kubeconfig, declarative
ensure/absent with server-side dry run in check mode, and a poll helper with a deadline.

The roles apply plain manifests with kubernetes.core; modules that manage a set of related objects
with waits between them (inference_gateway) use this instead of re-implementing it per module.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import os
import time

from ansible_collections.gke_inference.multicluster.plugins.module_utils import turbo

# Under ansible-playbook, run in this run's module host, which has the Kubernetes client loaded
# (module_utils/turbo.py). Elsewhere this returns at once.
turbo.delegate()

try:
    from kubernetes import config as kube_config
    from kubernetes import dynamic
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError, ResourceNotFoundError
    HAS_KUBERNETES = True
    KUBERNETES_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_IMPORT_ERROR = exc

    class DynamicApiError(Exception):
        """Stand-in so that the except clauses below stay valid without the library."""

    class NotFoundError(DynamicApiError):
        """Stand-in."""

    class ResourceNotFoundError(Exception):
        """Stand-in."""

# The field manager of the collection's server-side applies
FIELD_MANAGER = "gke-inference-multicluster"

KUBE_ARGS = dict(
    kubeconfig=dict(type="path", required=True),
    context=dict(type="str"),
    namespace=dict(type="str", default="default"),
)


def api_message(exc):
    """The API server's own message from a DynamicApiError."""
    body = getattr(exc, "body", None)
    try:
        return json.loads(body).get("message") or str(exc)
    except (TypeError, ValueError):
        return str(body or exc)


class Kube:
    """The Kubernetes API of one cluster, as the module's kubeconfig and context reach it."""

    def __init__(self, module):
        if not HAS_KUBERNETES:
            from ansible.module_utils.basic import missing_required_lib
            module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_IMPORT_ERROR))
        self.module = module
        self.namespace = module.params["namespace"]
        try:
            api = kube_config.new_client_from_config(config_file=module.params["kubeconfig"],
                                                     context=module.params.get("context"))
            # Fresh API discovery on every run. By default the client keeps discovery in a file per API
            # server address that nothing expires: after GKE changed the version a CRD is served in, a stale
            # file made a wildcard-version lookup read a version that is gone (404, "not found") until the
            # wait timed out. A path under os.devnull never exists and can never be written.
            self.client = dynamic.DynamicClient(api, cache_file=os.path.join(os.devnull, "discovery.json"))
        except Exception as exc:  # pylint: disable=broad-except
            module.fail_json(msg="kubeconfig: cannot reach the cluster with %s: %s" % (
                module.params["kubeconfig"], exc))

    def resource(self, api_version, kind):
        """The API resource of ``kind`` in ``api_version``, or None. ``GROUP/*`` finds the kind in whichever
        version of the group the cluster serves (its preferred one first), for kinds whose version is not
        documented."""
        group, _sep, version = api_version.rpartition("/")
        for attempt in range(2):
            try:
                if version == "*":
                    found = sorted(self.client.resources.search(group=group, kind=kind),
                                   key=lambda r: not getattr(r, "preferred", False))
                    if found:
                        return found[0]
                else:
                    return self.client.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                pass
            if attempt == 0:
                self.client.resources.invalidate_cache()
        return None

    def get(self, api_version, kind, name, namespace=None):
        resource = self.resource(api_version, kind)
        if resource is None:
            return None
        try:
            return resource.get(name=name, namespace=namespace or self.namespace).to_dict()
        except NotFoundError:
            return None
        except DynamicApiError as exc:
            self.module.fail_json(msg="Reading %s %s failed: %s" % (kind, name, api_message(exc)))

    def ensure(self, desired):
        """Server-side apply ``desired`` as this collection's field manager; returns (changed, before, after).

        The collection owns exactly the fields it last applied: a field it applied before and leaves out now
        is removed (a merge patch would have kept it). Check mode: the same apply as a server-side dry run."""
        kind, api_version = desired["kind"], desired["apiVersion"]
        name = desired["metadata"]["name"]
        namespace = desired["metadata"].setdefault("namespace", self.namespace)
        resource = self.resource(api_version, kind)
        if resource is None:
            self.module.fail_json(msg="The cluster does not serve %s %s: is the CRD installed (GKE installs it "
                                      "with the Gateway API and multi-cluster features)?" % (api_version, kind))
        before = self.get(api_version, kind, name, namespace)
        params = {"dry_run": "All"} if self.module.check_mode else {}
        try:
            after = self.client.server_side_apply(resource, body=desired, name=name, namespace=namespace,
                                                  field_manager=FIELD_MANAGER, force_conflicts=True,
                                                  **params).to_dict()
        except DynamicApiError as exc:
            self.module.fail_json(msg="%s %s/%s was refused by the API server: %s" % (
                kind, namespace, name, api_message(exc)))
        return before is None or strip_for_diff(before) != strip_for_diff(after), before, after

    def absent(self, api_version, kind, name, namespace=None):
        resource = self.resource(api_version, kind)
        namespace = namespace or self.namespace
        before = self.get(api_version, kind, name, namespace) if resource is not None else None
        if before is None:
            return False, None
        if not self.module.check_mode:
            try:
                resource.delete(name=name, namespace=namespace)
            except NotFoundError:
                return False, None
            except DynamicApiError as exc:
                self.module.fail_json(msg="Deleting %s %s/%s failed: %s" % (kind, namespace, name, api_message(exc)))
        return True, before

    def poll(self, probe, timeout, interval):
        """Call ``probe()`` until it returns something true or ``timeout`` seconds pass; return the last value."""
        deadline = time.time() + timeout
        while True:
            value = probe()
            if value or time.time() >= deadline:
                return value
            time.sleep(min(interval, max(0.0, deadline - time.time())))


def condition(obj, kind):
    """The status condition of type ``kind`` of an object dict, or an empty dict."""
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}


def strip_for_diff(obj):
    """The part of an object a user compares: no status, no server-managed metadata."""
    if obj is None:
        return {}
    out = copy.deepcopy(obj)
    out.pop("status", None)
    meta = out.get("metadata") or {}
    for field in ("uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"):
        meta.pop(field, None)
    return out
