#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iam_member
short_description: Grant or revoke one role to members on a project or a bucket, non-authoritatively
version_added: 0.1.0
description:
  - Adds members to a role's binding in the IAM policy of a project or a Cloud Storage bucket, or
    removes them with O(state=absent).
  - Non-authoritative, unlike Terraform's C(google_project_iam_binding) used by the codelab. Members
    this task does not name are never removed, and other roles are never touched.
  - The policy is changed with a read-modify-write guarded by its etag; a concurrent change (another
    region's play granting at the same time) makes the task read again and retry.
  - Workload Identity Federation principals such as
    C(principal://iam.googleapis.com/projects/NUMBER/locations/global/workloadIdentityPools/PROJECT.svc.id.goog/subject/ns/NS/sa/KSA)
    are accepted, so a Kubernetes service account can be granted access without a Google service account or key.
options:
  resource_type:
    description: The kind of resource whose policy is changed.
    type: str
    choices: [project, bucket]
    default: project
  resource:
    description: The bucket name, or the project id (defaults to O(project)).
    type: str
  role:
    description: The role, for example V(roles/storage.objectViewer).
    type: str
    required: true
  members:
    description: Members, for example V(serviceAccount:sa@p.iam.gserviceaccount.com) or a C(principal://) identifier.
    type: list
    elements: str
    required: true
    aliases: [member]
  state:
    description: V(present) grants, V(absent) revokes (only the listed members).
    type: str
    choices: [present, absent]
    default: present
  service_agent_of:
    description:
      - The members are this service's Google-managed service agent (for example
        V(multiclusteringress.googleapis.com)). Before they are granted the role, the module has Service Usage
        generate the agent's identity (C(services.generateServiceIdentity), v1beta1), since IAM refuses a policy
        that names a service account that does not exist yet, as a service agent may not right after its API is
        enabled. Nothing is called when the members already have the role.
    type: str
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: vLLM pods read the model bucket (Workload Identity Federation, no Google service account)
  gke_inference.multicluster.iam_member:
    project: my-project
    resource_type: bucket
    resource: my-project-gemma-weights
    role: roles/storage.objectViewer
    members:
      - principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/my-project.svc.id.goog/subject/ns/default/sa/gemma-ksa
"""

RETURN = r"""
members:
  description: The members of the role's binding after the task.
  returned: success
  type: list
  elements: str
added:
  description: Members this task added (or would add in check mode).
  returned: success
  type: list
  elements: str
removed:
  description: Members this task removed (or would remove in check mode).
  returned: success
  type: list
  elements: str
"""

import random
import re
import time

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import diff_result
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule

MEMBER_RE = re.compile(r"^(user|serviceAccount|group|domain):[^\s]+$|^principal(Set)?://iam\.googleapis\.com/[^\s]+$")
ROLE_RE = re.compile(r"^(roles/[A-Za-z0-9_.]+|(projects|organizations)/[^/]+/roles/[A-Za-z0-9_.]+)$")
ATTEMPTS = 8


class PolicyAccess:
    """Read and write one resource's policy as ``(bindings, write(bindings))``."""

    def __init__(self, module):
        self.module = module
        params = module.params
        self.kind = params["resource_type"]
        self.name = params["resource"] or (module.project if self.kind == "project" else None)
        self.label = "%s %s" % (self.kind, self.name)

    def read(self):
        """``(handle, bindings)``; in check mode a resource that does not exist yet (an earlier task
        would create it) reads as an empty policy."""
        if self.module.check_mode:
            from google.api_core import exceptions as gexc

            try:
                return self._read()
            except gexc.NotFound:
                self.module.warn("%s does not exist yet; check mode assumes an earlier task creates it." % self.label)
                return None, []
        return self._read()

    def _read(self):
        if self.kind == "project":
            client = self.module.client("projects")
            policy = self.module.retry.call(client.get_iam_policy, request={
                "resource": "projects/%s" % self.name, "options": {"requested_policy_version": 3}})
            bindings = [dict(role=b.role, members=set(b.members), conditional=b.HasField("condition"))
                        for b in policy.bindings]
            return policy, bindings
        bucket = self.module.client("storage").bucket(self.name)
        policy = self.module.retry.call(bucket.get_iam_policy, requested_policy_version=3)
        bindings = [dict(role=b["role"], members=set(b["members"]), conditional=bool(b.get("condition")))
                    for b in policy.bindings]
        return (bucket, policy), bindings

    def write(self, handle, role, members):
        """Set ``members`` on the unconditional binding of ``role``; raise the API error on conflicts."""
        if self.kind == "project":
            policy = handle
            for binding in policy.bindings:
                if binding.role == role and not binding.HasField("condition"):
                    del binding.members[:]
                    binding.members.extend(sorted(members))
                    break
            else:
                policy.bindings.add(role=role, members=sorted(members))
            for binding in list(policy.bindings):
                if not binding.members:
                    policy.bindings.remove(binding)
            client = self.module.client("projects")
            return self.module.retry.call(client.set_iam_policy, request={
                "resource": "projects/%s" % self.name, "policy": policy})
        bucket, policy = handle
        for binding in policy.bindings:
            if binding["role"] == role and not binding.get("condition"):
                binding["members"] = set(members)
                break
        else:
            policy.bindings.append(dict(role=role, members=set(members)))
        policy.bindings[:] = [b for b in policy.bindings if b["members"]]
        return self.module.retry.call(bucket.set_iam_policy, policy)


def main():
    module = GcpModule(
        argument_spec=dict(
            resource_type=dict(type="str", choices=["project", "bucket"], default="project"),
            resource=dict(type="str"),
            role=dict(type="str", required=True),
            members=dict(type="list", elements="str", required=True, aliases=["member"]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            service_agent_of=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    errors = []
    if not ROLE_RE.match(p["role"]):
        errors.append("role: '%s' is not a role name; use roles/NAME or projects/P/roles/NAME." % p["role"])
    for member in p["members"]:
        if not MEMBER_RE.match(member):
            errors.append("members: '%s' is not an IAM member; use user:, serviceAccount:, group:, domain: or a "
                          "principal:// / principalSet:// identifier." % member)
    if p["resource_type"] == "bucket" and not p["resource"]:
        errors.append("resource: name the bucket whose policy is changed.")
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    from google.api_core import exceptions as gexc

    access = PolicyAccess(module)
    wanted = set(p["members"])
    agent_ready = False
    for attempt in range(ATTEMPTS):
        try:
            handle, bindings = access.read()
        except gexc.GoogleAPICallError as exc:
            module.fail_api(exc, "read the IAM policy of " + access.label)
        current = set()
        for binding in bindings:
            if binding["role"] == p["role"] and not binding["conditional"]:
                current = binding["members"]
        if p["state"] == "present":
            added, removed, after = sorted(wanted - current), [], current | wanted
        else:
            added, removed, after = [], sorted(wanted & current), current - wanted
        changed = bool(added or removed)
        if not changed or module.check_mode:
            break
        if added and p["service_agent_of"] and not agent_ready:
            module.service_identity(p["service_agent_of"])
            agent_ready = True
        try:
            access.write(handle, p["role"], after)
            break
        except (gexc.Conflict, gexc.PreconditionFailed, gexc.Aborted) as exc:
            if attempt == ATTEMPTS - 1:
                module.fail_api(exc, "update the IAM policy of %s (concurrent changes kept winning)" % access.label)
            time.sleep(min(0.5 * 2 ** attempt, 8) * (0.5 + random.random() / 2))
        except gexc.GoogleAPICallError as exc:
            module.fail_api(exc, "grant %s on %s" % (p["role"], access.label))
    module.exit_json(changed=changed, members=sorted(after), added=added, removed=removed,
                     diff=diff_result({"role": p["role"], "members": sorted(current)},
                                      {"role": p["role"], "members": sorted(after)}))


if __name__ == "__main__":
    main()
