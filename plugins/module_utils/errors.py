# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One translation of Google API errors into messages a user can act on."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# permission prefix -> the predefined role that grants it
PERMISSION_ROLES = (
    ("compute.firewalls.", "roles/compute.securityAdmin"),
    ("compute.", "roles/compute.networkAdmin"),
    ("container.", "roles/container.admin"),
    ("storage.buckets.setIamPolicy", "roles/storage.admin"),
    ("storage.buckets.getIamPolicy", "roles/storage.admin"),
    ("storage.", "roles/storage.admin"),
    ("resourcemanager.projects.setIamPolicy", "roles/resourcemanager.projectIamAdmin"),
    ("resourcemanager.projects.getIamPolicy", "roles/iam.securityReviewer"),
    ("resourcemanager.projects.get", "roles/browser"),
    ("serviceusage.", "roles/serviceusage.serviceUsageAdmin"),
    ("gkehub.", "roles/gkehub.admin"),
    ("iam.serviceAccounts.", "roles/iam.serviceAccountAdmin"),
)
STOCKOUT = re.compile(r"GCE_STOCKOUT|ZONE_RESOURCE_POOL_EXHAUSTED|does not have enough resources|stockout",
                      re.IGNORECASE)
QUOTA = re.compile(r"QUOTA_EXCEEDED|GCE_QUOTA_EXCEEDED|Insufficient regional quota|quota exceeded|Quota '([^']+)'",
                   re.IGNORECASE)


def role_for(permission):
    for prefix, role in PERMISSION_ROLES:
        if permission.startswith(prefix):
            return role
    return None


def _detail(exc, key):
    """``reason`` / ``metadata`` of the ErrorInfo detail, when the API sent one."""
    value = getattr(exc, key, None)
    if value:
        return value
    try:
        details = list(getattr(exc, "details", None) or [])
    except TypeError:  # api_core exceptions built without details
        details = []
    for detail in details:
        if isinstance(detail, dict) and detail.get("@type", "").endswith("ErrorInfo"):
            return detail.get(key)
    return None


def explain(exc, action, context=None):
    """A message for ``exc`` raised while doing ``action`` (e.g. "create network tpu-gke-dranet-vpc").

    ``context`` may name ``zone``, ``machine_type`` and ``region`` for capacity errors.
    """
    context = context or {}
    code = getattr(exc, "code", None)
    code = code if isinstance(code, int) else getattr(exc, "http_status", None)
    text = getattr(exc, "message", None) or str(exc)
    reason = _detail(exc, "reason") or ""
    metadata = _detail(exc, "metadata") or {}
    head = "Failed to %s: %s" % (action, text)

    if reason == "SERVICE_DISABLED" or "has not been used in project" in text or "it is disabled" in text:
        service = metadata.get("service") or _first(re.findall(r"([a-z0-9-]+\.googleapis\.com)", text)) or "the API"
        return ("%s -> Enable %s in the project: list it in network_services (the network role enables them) or "
                "run 'gcloud services enable %s'; wait a minute and re-run." % (head, service, service))
    if code == 401 or "invalid authentication credentials" in text:
        return ("%s -> The credentials were refused. Check auth_kind and service_account_file / access_token "
                "(an access token expires after an hour)." % head)
    if STOCKOUT.search(text) or STOCKOUT.search(str(getattr(exc, "code", "") or "")):
        zone = context.get("zone", "this zone")
        other = ", ".join(context.get("other_zones") or []) or "another zone of %s" % context.get("region", "the region")
        return ("%s -> %s has no capacity for %s right now (stockout). Try %s, use a reservation or a "
                "different accelerator profile, or retry later." % (head, zone, context.get("machine_type", "this machine type"), other))
    quota = QUOTA.search(text) or QUOTA.search(str(getattr(exc, "code", "") or ""))
    if quota or code == 429 and "quota" in text.lower():
        metric = quota.group(1) if quota and quota.group(1) else metadata.get("quota_metric", "the quota named above")
        return ("%s -> Quota exhausted (%s). Request an increase under IAM & Admin > Quotas for the project and "
                "region, or free capacity, then re-run." % (head, metric))
    if code == 403:
        permission = _first(re.findall(r"([a-z]+\.[a-zA-Z]+\.[a-zA-Z]+)", text)) if "ermission" in text else None
        role = role_for(permission) if permission else None
        if role:
            return "%s -> The caller lacks %s; grant it %s (or a custom role with that permission)." % (head, permission, role)
        return ("%s -> Permission denied. Check that the project exists and that the caller has the roles listed "
                "in the README's prerequisites." % head)
    pool = re.search(r"Identity Pool does not exist \(([^)]+)\)", text)
    if pool:  # a Workload Identity principal named before the project has a cluster with Workload Identity
        return ("%s -> GKE creates the Workload Identity pool %s with the project's first cluster that has Workload "
                "Identity: create the clusters first (the clusters role), then grant (the storage role runs after them "
                "in site.yml)." % (head, pool.group(1)))
    if code == 404:
        return "%s -> Not found: check the project, location and name." % head
    if code == 409:
        return "%s -> Conflict: the resource exists or is being changed by someone else; re-run." % head
    if code in (429, 503, 504):
        attempts = getattr(exc, "retry_attempts", None)
        tries = " after %d attempts" % attempts if attempts else ""
        return "%s -> The API stayed unavailable or throttled%s; re-run later." % (head, tries)
    return head


def _first(items):
    return items[0] if items else None


# The client libraries the modules call (module prefix -> PyPI package, the lowest version the collection
# works with). requirements.txt states the same bounds; a unit test keeps the two equal.
LIBRARIES = (
    ("google.cloud.container_v1", "google-cloud-container", "2.65.0"),  # NodeNetworkConfig.accelerator_network_profile
    ("google.cloud.compute_v1", "google-cloud-compute", "1.20.0"),
    ("google.cloud.gkehub_v1", "google-cloud-gke-hub", "1.14.0"),
    ("google.cloud.storage", "google-cloud-storage", "2.16.0"),
    ("google.cloud.resourcemanager_v3", "google-cloud-resource-manager", "1.12.0"),
    ("google.cloud.service_usage_v1", "google-cloud-service-usage", "1.10.0"),
)


def library_too_old(exc, func, action):
    """The message for a request the installed client library cannot express (proto-plus raises "Unknown field
    for MESSAGE: FIELD" for a field newer than the library), naming the package and version to install."""
    text = str(exc)
    if "Unknown field" not in text:
        return None
    owner = type(getattr(func, "__self__", None)).__module__ or ""
    for prefix, package, minimum in LIBRARIES:
        if owner.startswith(prefix):
            try:
                from importlib.metadata import version  # pylint: disable=import-outside-toplevel
                installed = version(package)
            except Exception:  # pylint: disable=broad-except
                installed = "(version unknown)"
            return ("Failed to %s: the installed %s %s is too old for this collection (%s). Install %s>=%s, as the "
                    "collection's requirements.txt says." % (action, package, installed, text, package, minimum))
    return ("Failed to %s: a client library is too old for this collection (%s). Install the versions the "
            "collection's requirements.txt names." % (action, text))
