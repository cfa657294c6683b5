#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: preflight_info
short_description: Check a project before deploying - credentials, APIs, permissions, accelerator quota and shape
version_added: 0.1.0
description:
  - Reads, never changes. Collects every problem it finds instead of stopping at the first, so that one
    run tells the whole story; the module itself succeeds and returns them in RV(problems) (and what it could not verify in
    RV(unverified)), and the caller decides.
  - Credentials and project - the state of O(services) read with them (Service Usage answers in a new
    project). APIs - which of O(services) are disabled, and whether the caller may enable them.
    Permissions - C(projects.testIamPermissions) with O(permissions) (unverified while Resource Manager
    is disabled; quota likewise while Compute Engine is).
    Quota - per region of O(quota), the first of its C(metrics) that Compute Engine reports, or else its
    C(quota_id) in Cloud Quotas, against the chips or GPUs needed. Shape - the accelerator node pool's machine type and topology or GPUs.
options:
  services:
    description: APIs the deployment needs (for example C(container.googleapis.com)).
    type: list
    elements: str
    default: []
  permissions:
    description: IAM permissions the caller needs on the project.
    type: list
    elements: str
    default: []
  quota:
    description: Accelerator quota to check, per region.
    type: list
    elements: dict
    default: []
    suboptions:
      region:
        description: Region name.
        type: str
        required: true
      metrics:
        description:
          - Compute Engine quota metric names to look for, in order (the first one the region reports counts).
          - When the region reports none of them (or none are given) the check becomes a warning that says it was
            not checked (some accelerator quotas, such as TPU v6e chips and on-demand H100 GPUs, are not among the
            values of the Compute Engine v1 C(Quota.metric) enum; they live in the Cloud Quotas service).
        type: list
        elements: str
        required: true
      quota_id:
        description:
          - The Cloud Quotas id of the quota (service C(compute.googleapis.com)), read when the region reports none of
            O(quota[].metrics) among its Compute Engine quotas - for example C(TPUS-PER-TPU-FAMILY-per-project-region).
          - The value that applies to the region and O(quota[].dimensions) is compared with O(quota[].needed). Cloud
            Quotas reports limits, not usage - what other node pools in the region already use is not counted, and
            the result says so in RV(unverified).
          - Needs C(cloudquotas.googleapis.com) enabled (the network role enables it) and permission to read quota
            information (for example C(roles/cloudquotas.viewer)); without them the check becomes a warning.
        type: str
      dimensions:
        description: The quota's dimensions besides the region, for example C(tpu_family=CT6E) as a dict.
        type: dict
        default: {}
      elsewhere:
        description: Where that quota can be checked instead, named in the warning when it is not checked here.
        type: str
      needed:
        description: How many units (chips or GPUs) the deployment needs in the region.
        type: float
        required: true
  accelerator:
    description: The accelerator node pool's shape, checked like the node pool module does.
    type: dict
    suboptions:
      machine_type:
        description: Machine type.
        type: str
        required: true
      tpu_topology:
        description: TPU topology.
        type: str
      gpu_type:
        description: GPU type.
        type: str
      gpu_count:
        description: GPUs per node.
        type: int
      node_count:
        description: Nodes per node pool.
        type: int
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - ansible.builtin.action_common_attributes
  - gke_inference.multicluster.attributes.info_module
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Everything wrong with the project, at once
  gke_inference.multicluster.preflight_info:
    project: my-project
    services: [container.googleapis.com, gkehub.googleapis.com]
    permissions: [container.clusters.create, compute.networks.create]
    quota:
      - {region: us-east5, metrics: [PREEMPTIBLE_NVIDIA_H100_GPUS], needed: 6}
      - region: europe-west4
        metrics: []
        quota_id: TPUS-PER-TPU-FAMILY-per-project-region
        dimensions: {tpu_family: CT6E}
        needed: 4
    accelerator: {machine_type: ct6e-standard-4t, tpu_topology: 2x2}
  register: preflight
"""

RETURN = r"""
problems:
  description: Every problem found, each naming what is wrong and how to fix it.
  returned: always
  type: list
  elements: str
unverified:
  description: What could not be verified (not problems, but worth a look).
  returned: always
  type: list
  elements: str
disabled_services:
  description: The services of O(services) that are not enabled.
  returned: always
  type: list
  elements: str
missing_permissions:
  description: The permissions of O(permissions) the caller does not have.
  returned: always
  type: list
  elements: str
quota:
  description:
    - Per region checked - region, metric, limit, usage, needed.
    - A quota read from Cloud Quotas has its id and dimensions as C(metric) (for example
      C(TPUS-PER-TPU-FAMILY-per-project-region tpu_family=CT6E)) and no usage (C(null)).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.accelerators import shape_errors
from ansible_collections.gke_inference.multicluster.plugins.module_utils.auth import CredentialsError, get_credentials
from ansible_collections.gke_inference.multicluster.plugins.module_utils.errors import explain
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule, to_dict
from ansible_collections.gke_inference.multicluster.plugins.module_utils.validation import project_error

try:
    from google.api_core import exceptions as gexc
    from google.auth import exceptions as auth_exceptions
except ImportError:
    pass  # GcpModule reports the missing libraries


class Checks:
    def __init__(self, module):
        self.module = module
        self.problems, self.warnings = [], []

    def attempt(self, action, func, *args, **kwargs):
        """(result, None) or (None, message) - an API error is a finding here, not a failure."""
        try:
            return self.module.retry.call(func, *args, **kwargs), None
        except (gexc.GoogleAPICallError, gexc.RetryError) as exc:
            return None, explain(exc, action)
        except auth_exceptions.GoogleAuthError as exc:
            return None, "credentials: they were refused or could not be refreshed while trying to %s (%s); check " \
                         "auth_kind and service_account_file / access_token." % (action, exc)


def quota_value(info, region, dimensions):
    """The value of a Cloud Quotas QuotaInfo that applies to ``region`` and ``dimensions``, or None. Its
    DimensionsInfos come most specific first; one that leaves a dimension out applies to every value of it
    (that no more specific one names), within its applicable locations."""
    wanted = dict(dimensions, region=region)
    for entry in info.get("dimensions_infos") or []:
        dims = entry.get("dimensions") or {}
        if any(wanted.get(key) != value for key, value in dims.items()):
            continue
        where = entry.get("applicable_locations") or []
        if "region" not in dims and where and region not in where and "global" not in where:
            continue
        return int((entry.get("details") or {}).get("value") or 0)
    return None


def cloud_quota(module, checks, project, item, result):
    """Check one region's accelerator quota in Cloud Quotas (limits only: usage is not reported there)."""
    label = " ".join([item["quota_id"]] + ["%s=%s" % kv for kv in sorted(item["dimensions"].items())])
    where = item["elsewhere"] or "the console (IAM & Admin > Quotas)"
    name = "projects/%s/locations/global/services/compute.googleapis.com/quotaInfos/%s" % (project, item["quota_id"])
    info, error = checks.attempt("read the quota %s" % item["quota_id"], module.client("cloudquotas").get_quota_info,
                                 request={"name": name})
    limit = None if error else quota_value(to_dict(info), item["region"], item["dimensions"])
    if limit is None:
        checks.warnings.append("quota: not checked in %s - %s; check %g units of %s before deploying."
                               % (item["region"], error or "Cloud Quotas states no value of %s for it" % label,
                                  item["needed"], where))
        return
    result["quota"].append({"region": item["region"], "metric": label, "limit": float(limit), "usage": None,
                            "needed": item["needed"]})
    if 0 <= limit < item["needed"]:
        checks.problems.append("quota: region %s allows %d of %s but the node pool needs %g; request more quota for "
                               "%s in %s (%s), or lower the node count."
                               % (item["region"], limit, label, item["needed"], label, item["region"], where))
    else:
        checks.warnings.append("quota: %s in %s allows %s (the node pool needs %g); what other node pools there "
                               "already use of it is not read (Cloud Quotas reports limits only)."
                               % (label, item["region"], "no limit" if limit < 0 else "%d" % limit, item["needed"]))


def main():
    module = GcpModule(
        argument_spec=dict(
            services=dict(type="list", elements="str", default=[]),
            permissions=dict(type="list", elements="str", default=[]),
            quota=dict(type="list", elements="dict", default=[], options=dict(
                region=dict(type="str", required=True), metrics=dict(type="list", elements="str", required=True),
                needed=dict(type="float", required=True), elsewhere=dict(type="str"), quota_id=dict(type="str"),
                dimensions=dict(type="dict", default={}))),
            accelerator=dict(type="dict", options=dict(
                machine_type=dict(type="str", required=True), tpu_topology=dict(type="str"),
                gpu_type=dict(type="str"), gpu_count=dict(type="int"), node_count=dict(type="int"))),
        ),
        supports_check_mode=True,
    )
    p = module.params
    checks = Checks(module)
    result = dict(changed=False, disabled_services=[], missing_permissions=[], quota=[])
    if p["accelerator"]:
        a = p["accelerator"]
        checks.problems += ["accelerator %s" % e for e in shape_errors(
            a["machine_type"], a.get("tpu_topology"), a.get("gpu_type"), a.get("gpu_count"), a.get("node_count"))]
    error = project_error("project", p.get("project"))
    if error:
        checks.problems.append(error)
        module.exit_json(problems=checks.problems, unverified=checks.warnings, **result)
    project = p["project"]
    try:
        get_credentials(p)
    except CredentialsError as exc:
        checks.problems.append("credentials: %s" % exc)
        module.exit_json(problems=checks.problems, unverified=checks.warnings, **result)
    # Service Usage answers in a new project (Resource Manager and Compute may not be enabled yet):
    # it proves the credentials and the project first.
    disabled = []
    if p["services"]:
        names = ["projects/%s/services/%s" % (project, s) for s in p["services"]]
        for start in range(0, len(names), 20):
            response, error = checks.attempt("read the state of the project's APIs",
                                             module.client("serviceusage").batch_get_services,
                                             request={"parent": "projects/%s" % project, "names": names[start:start + 20]})
            if error:
                checks.problems.append(error)
                module.exit_json(problems=checks.problems, unverified=checks.warnings, **result)
            disabled += [s.config.name or s.name.rsplit("/", 1)[-1] for s in response.services if s.state.name != "ENABLED"]
    result["disabled_services"] = disabled

    granted = set()
    wanted = sorted(set(p["permissions"]) | ({"serviceusage.services.enable"} if disabled else set()))
    if "cloudresourcemanager.googleapis.com" in disabled:
        checks.warnings.append("permissions: not tested, cloudresourcemanager.googleapis.com is disabled (site.yml "
                               "enables it; run the preflight again afterwards to test them).")
        granted = set(wanted)
    elif wanted:
        response, error = checks.attempt("test the caller's permissions on project %s" % project,
                                         module.client("projects").test_iam_permissions,
                                         request={"resource": "projects/%s" % project, "permissions": wanted})
        if error:
            checks.problems.append(error)
            granted = set(wanted)
        else:
            granted = set(response.permissions)
    missing = [perm for perm in p["permissions"] if perm not in granted]
    result["missing_permissions"] = missing
    if missing:
        checks.problems.append("permissions: the caller lacks %s on project %s; grant a role that has them (for "
                               "example roles/container.admin, roles/compute.networkAdmin, roles/storage.admin, "
                               "roles/gkehub.admin, roles/resourcemanager.projectIamAdmin)."
                               % (", ".join(missing), project))
    if disabled and "serviceusage.services.enable" not in granted:
        checks.problems.append("services: %s are disabled and the caller may not enable them "
                               "(serviceusage.services.enable); enable them or grant "
                               "roles/serviceusage.serviceUsageAdmin." % ", ".join(disabled))
    elif disabled:
        checks.warnings.append("services: %s are disabled; site.yml enables them." % ", ".join(disabled))

    for item in p["quota"] if "compute.googleapis.com" not in disabled else []:
        region, error = checks.attempt("read region %s" % item["region"], module.client("regions").get,
                                       project=project, region=item["region"])
        if error:
            checks.problems.append("quota: %s" % error)
            continue
        quotas = {q["metric"]: q for q in to_dict(region).get("quotas", [])}
        metric = next((m for m in item["metrics"] if m in quotas), None)
        if metric is None and item["quota_id"] and "cloudquotas.googleapis.com" not in disabled:
            cloud_quota(module, checks, project, item, result)
            continue
        if metric is None and item["quota_id"]:
            checks.warnings.append("quota: not checked in %s - cloudquotas.googleapis.com, where the quota %s is read, "
                                   "is disabled (site.yml enables it; run the preflight again afterwards)."
                                   % (item["region"], item["quota_id"]))
            continue
        if metric is None:
            where = item["elsewhere"] or "the console (IAM & Admin > Quotas)"
            if item["metrics"]:
                checks.warnings.append("quota: not checked in %s - the region reports none of %s in its Compute Engine "
                                       "quotas; check %g units of %s before deploying."
                                       % (item["region"], ", ".join(item["metrics"]), item["needed"], where))
            else:
                checks.warnings.append("quota: not checked in %s - this accelerator's quota is not a Compute Engine "
                                       "regional quota; check %g units of %s before deploying."
                                       % (item["region"], item["needed"], where))
            continue
        limit, usage = float(quotas[metric].get("limit", 0)), float(quotas[metric].get("usage", 0))
        result["quota"].append({"region": item["region"], "metric": metric, "limit": limit, "usage": usage,
                                "needed": item["needed"]})
        if usage + item["needed"] > limit:
            checks.problems.append("quota: region %s has %g of %s left (limit %g, in use %g) but the node pool needs "
                                   "%g; request more quota for %s in %s, or lower the node count."
                                   % (item["region"], max(0, limit - usage), metric, limit, usage, item["needed"],
                                      metric, item["region"]))
    if p["quota"] and "compute.googleapis.com" in disabled:
        checks.warnings.append("quota: not read, compute.googleapis.com is disabled (site.yml enables it; run the "
                               "preflight again afterwards to check the accelerator quota).")
    module.exit_json(problems=checks.problems, unverified=checks.warnings, **result)


if __name__ == "__main__":
    main()
