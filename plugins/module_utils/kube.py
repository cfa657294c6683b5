# -*- coding: utf-8 -*-
# Copyright (c) 2026 gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes objects for the collection's own modules, through kubernetes.core's client and service.

The roles apply manifests with ``kubernetes.core.k8s`` (``apply: true``); a module that manages a set of
related objects with waits between them (inference_gateway) applies each object with the same code that
task runs (kubernetes.core's ``perform_action``): the same client-side apply with its last-applied
annotation, the same server-side dry run in check mode, the same diff. So apply, check mode, diff and
drift behave alike for every object the collection owns, whichever path created it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import json
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.gke_inference.multicluster.plugins.module_utils import turbo

# Under ansible-playbook, run in this run's module host, which has the Kubernetes client loaded
# (module_utils/turbo.py). Elsewhere this returns at once.
turbo.delegate()

try:
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.client import get_api_client
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.core import AnsibleK8SModule
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.exceptions import CoreException
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.runner import perform_action
    from ansible_collections.kubernetes.core.plugins.module_utils.k8s.service import K8sService
    HAS_K8S_CORE = True
    K8S_CORE_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - reported by kube_module()
    HAS_K8S_CORE = False
    K8S_CORE_IMPORT_ERROR = exc

    class CoreException(Exception):
        """Stand-in so that the except clauses below stay valid without kubernetes.core."""

try:
    from kubernetes.dynamic.exceptions import DynamicApiError, NotFoundError
except ImportError:  # pragma: no cover - AnsibleK8SModule reports the missing library
    class DynamicApiError(Exception):
        """Stand-in."""

    class NotFoundError(DynamicApiError):
        """Stand-in."""

# kubernetes.core's own names for these options, so that its client reads them (and, when they are not
# set, its K8S_AUTH_* environment variables) exactly as it does for the roles' kubernetes.core tasks
KUBE_ARGS = dict(
    kubeconfig=dict(type="path", required=True),
    context=dict(type="str"),
    namespace=dict(type="str", default="default"),
)


def kube_module(argument_spec, **kwargs):
    """The module object of a module built on this file: kubernetes.core's AnsibleK8SModule (which checks
    the kubernetes library) with ``KUBE_ARGS`` added to ``argument_spec``."""
    spec = dict(KUBE_ARGS, **argument_spec)
    if not HAS_K8S_CORE:
        module = AnsibleModule(argument_spec=spec, **kwargs)
        module.fail_json(msg=missing_required_lib("the kubernetes.core collection (>=5.0.0)"),
                         exception=str(K8S_CORE_IMPORT_ERROR))
    return AnsibleK8SModule(argument_spec=spec, **kwargs)


def api_message(exc):
    """The API server's own message from a DynamicApiError or a kubernetes.core CoreException."""
    body = getattr(exc, "body", None) or getattr(getattr(exc, "__cause__", None), "body", None)
    try:
        return json.loads(body).get("message") or str(exc)
    except (TypeError, ValueError):
        return str(body or exc)


class Kube:
    """The Kubernetes API of one cluster, as the module's kubeconfig and context reach it."""

    def __init__(self, module, kubeconfig=None, context=None, namespace=None):
        """The cluster of the module's kubeconfig/context/namespace options, or of those given (for a module
        whose Kubernetes access is one option among others)."""
        self.module = module
        explicit = kubeconfig is not None
        self.namespace = namespace or module.params["namespace"]
        kubeconfig = kubeconfig or module.params["kubeconfig"]
        try:
            self.client = get_api_client(kubeconfig=kubeconfig, context=context) if explicit else \
                get_api_client(module=module)
            # Fresh API discovery on every run. kubernetes.core keeps discovery in a file per API server
            # address that nothing expires: after GKE changed the version a CRD is served in, a stale file
            # made a wildcard-version lookup read a version that is gone (404, "not found") until the wait
            # timed out. Refreshing also mends the file for the roles' kubernetes.core tasks that follow.
            self.client.resources.invalidate_cache()
        except Exception as exc:  # pylint: disable=broad-except
            module.fail_json(msg="kubeconfig: cannot reach the cluster with %s: %s" % (kubeconfig, exc))
        self.service = K8sService(self.client, module)

    def resource(self, api_version, kind):
        """The API resource of ``kind`` in ``api_version``, or None. ``GROUP/*`` finds the kind in whichever
        version of the group the cluster serves (its preferred one first), for kinds whose version is not
        documented."""
        group, _sep, version = api_version.rpartition("/")
        if version != "*":
            return self.service.find_resource(kind, api_version)
        for attempt in range(2):
            found = sorted(self.client.resources.search(group=group, kind=kind),
                           key=lambda r: not getattr(r, "preferred", False))
            if found:
                return found[0]
            if attempt == 0:
                self.client.resources.invalidate_cache()
        return None

    def get(self, api_version, kind, name, namespace=None):
        resource = self.resource(api_version, kind)
        if resource is None:
            return None
        try:
            return self.client.get(resource, name=name, namespace=namespace or self.namespace).to_dict()
        except NotFoundError:
            return None
        except DynamicApiError as exc:
            self.module.fail_json(msg="Reading %s %s failed: %s" % (kind, name, api_message(exc)))

    def _perform(self, definition, state):
        """kubernetes.core's own action for ``definition`` (what a ``kubernetes.core.k8s`` task with
        ``apply: true`` or ``state: absent`` does); returns its result."""
        kind, name = definition["kind"], definition["metadata"]["name"]
        if self.resource(definition["apiVersion"], kind) is None:
            self.module.fail_json(msg="The cluster does not serve %s %s: is the CRD installed (GKE installs it "
                                      "with the Gateway API and multi-cluster features)?"
                                      % (definition["apiVersion"], kind))
        try:
            return perform_action(self.service, copy.deepcopy(definition), {"state": state, "apply": True})
        except CoreException as exc:
            self.module.fail_json(msg="%s %s/%s was refused by the API server: %s" % (
                kind, definition["metadata"]["namespace"], name, api_message(exc)))

    def ensure(self, desired):
        """Apply ``desired``; returns (changed, before, after).

        The collection owns exactly the fields it last applied: a field it applied before and leaves out now
        is removed, one that someone else set stays. Check mode: the same apply as a server-side dry run."""
        desired = copy.deepcopy(desired)
        meta = desired["metadata"]
        meta.setdefault("namespace", self.namespace)
        before = self.get(desired["apiVersion"], desired["kind"], meta["name"], meta["namespace"])
        result = self._perform(desired, "present")
        return result["changed"], before, result["result"]

    def log(self, name, namespace=None):
        """The log of pod ``name`` (its only container), or None when the pod is gone."""
        try:
            response = self.resource("v1", "Pod").log.get(name=name, namespace=namespace or self.namespace,
                                                          serialize=False)
        except NotFoundError:
            return None
        except DynamicApiError as exc:
            self.module.fail_json(msg="Reading the log of pod %s failed: %s" % (name, api_message(exc)))
        return response.data.decode("utf-8", "replace")

    def delete_now(self, api_version, kind, name, namespace=None):
        """Delete an object and what it owns (background propagation: a Job's pods too), gone or not."""
        try:
            self.resource(api_version, kind).delete(name=name, namespace=namespace or self.namespace,
                                                    body={"propagationPolicy": "Background"})
        except NotFoundError:
            pass
        except DynamicApiError as exc:
            self.module.warn("Deleting %s %s failed: %s" % (kind, name, api_message(exc)))

    def pods_of_job(self, name, namespace=None):
        pods = self.resource("v1", "Pod").get(namespace=namespace or self.namespace, label_selector="job-name=%s" % name)
        return [pod.to_dict() for pod in pods.items]

    def absent(self, api_version, kind, name, namespace=None):
        """Delete the object if it exists; returns (changed, before). Check mode: a server-side dry run."""
        namespace = namespace or self.namespace
        before = self.get(api_version, kind, name, namespace)
        if before is None:
            return False, None
        self._perform({"apiVersion": api_version, "kind": kind,
                       "metadata": {"name": name, "namespace": namespace}}, "absent")
        return True, before

    def poll(self, probe, timeout, interval):
        """Call ``probe()`` until it returns something true or ``timeout`` seconds pass; return the last value."""
        deadline = time.time() + timeout
        while True:
            value = probe()
            if value or time.time() >= deadline:
                return value
            time.sleep(min(interval, max(0.0, deadline - time.time())))


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
