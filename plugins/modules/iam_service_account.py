#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: iam_service_account
short_description: Manage a Google Cloud service account (no keys)
version_added: 0.1.1
description:
  - Creates, updates (display name, description) or deletes a user-managed service account of a project,
    for example the dedicated least-privilege service account the GKE nodes run as. Never creates a key.
  - Roles are granted separately with M(gke_inference.multicluster.iam_member), non-authoritatively.
  - Google's Python client for IAM (C(google-cloud-iam)) has no REST transport, so this module calls the IAM v1
    REST API itself, with the collection's credentials, retry policy and error messages.
  - Safe to run from several hosts at once; when another run created the account first, this one reads it.
  - IAM reads are eventually consistent (U(https://cloud.google.com/iam/docs/reference/rest)); after a creation
    the module reads the account again until IAM returns it, so that the next task can use it.
options:
  account_id:
    description:
      - The account id, the part of the email before C(@); 6 to 30 characters, lower-case letters, digits and
        hyphens, starting with a letter (IAM's rule).
    type: str
    required: true
  display_name:
    description: Display name (at most 100 characters).
    type: str
  description:
    description: Description (at most 256 characters).
    type: str
  state:
    description: Whether the service account should exist.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: The GKE nodes' own service account
  gke_inference.multicluster.iam_service_account:
    project: my-project
    account_id: gke-inference-nodes
    display_name: GKE inference nodes
  register: node_sa

- name: It may write metrics
  gke_inference.multicluster.iam_member:
    project: my-project
    role: roles/monitoring.metricWriter
    members: ["serviceAccount:{{ node_sa.email }}"]
"""

RETURN = r"""
email:
  description: The service account's email (also in check mode, before it exists).
  returned: success
  type: str
  sample: gke-inference-nodes@my-project.iam.gserviceaccount.com
service_account:
  description: The service account as IAM returns it (camelCase keys); empty after deletion.
  returned: success
  type: dict
"""

import re
import time

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import diff_result
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule

ACCOUNT_ID_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")
HOST = "iam.googleapis.com"
FIELDS = ("displayName", "description")
# creation to visibility: IAM reads are eventually consistent
VISIBLE_WITHIN = 60


def main():
    module = GcpModule(
        argument_spec=dict(
            account_id=dict(type="str", required=True),
            display_name=dict(type="str"),
            description=dict(type="str"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    errors = []
    if not (6 <= len(p["account_id"]) <= 30 and ACCOUNT_ID_RE.match(p["account_id"])):
        errors.append("account_id: '%s' is not a service account id; use 6 to 30 lower-case letters, digits and "
                      "hyphens, starting with a letter and not ending with a hyphen." % p["account_id"])
    if p["display_name"] is not None and len(p["display_name"]) > 100:
        errors.append("display_name: at most 100 characters (%d given)." % len(p["display_name"]))
    if p["description"] is not None and len(p["description"]) > 256:
        errors.append("description: at most 256 characters (%d given)." % len(p["description"]))
    if errors:
        module.fail_json(msg=" ".join(errors), errors=errors)

    email = "%s@%s.iam.gserviceaccount.com" % (p["account_id"], module.project)
    path = "/v1/projects/%s/serviceAccounts/%s" % (module.project, email)

    def read():
        return module.rest(HOST, "GET", path, "read service account %s" % email, missing_ok=True)
    actual = read()

    if p["state"] == "absent":
        module.exit_absent(actual, lambda: module.rest(HOST, "DELETE", path, "delete service account %s" % email),
                           "service_account")
        return

    wanted = dict((field, p[key]) for field, key in zip(FIELDS, ("display_name", "description"))
                  if p[key] is not None)
    if actual is None:
        desired = dict(wanted, email=email)
        if not module.check_mode:
            body = dict(accountId=p["account_id"], serviceAccount=wanted)
            created = module.rest(HOST, "POST", "/v1/projects/%s/serviceAccounts" % module.project,
                                  "create service account %s" % email, conflict_ok=True, json=body)
            deadline = time.time() + VISIBLE_WITHIN
            actual, delay = read(), 1
            while actual is None and time.time() < deadline:
                time.sleep(delay)
                actual, delay = read(), min(delay * 2, 10)
            if created is None:  # another run created it first: this run changed nothing
                module.exit_json(changed=False, email=email, service_account=actual or {},
                                 diff=diff_result(actual or {}, actual or {}))
            desired = actual or created
        module.exit_json(changed=True, email=email, service_account=desired, diff=diff_result({}, desired))

    changes = sorted(field for field, value in wanted.items() if actual.get(field, "") != value)
    after = dict(actual, **wanted)
    if changes and not module.check_mode:
        after = module.rest(HOST, "PATCH", path, "update service account %s" % email,
                            json=dict(serviceAccount=wanted, updateMask=",".join(changes)))
    module.exit_json(changed=bool(changes), email=email, service_account=after, changes=changes,
                     diff=diff_result(dict((f, actual.get(f, "")) for f in FIELDS),
                                      dict((f, after.get(f, "")) for f in FIELDS)))


if __name__ == "__main__":
    main()
