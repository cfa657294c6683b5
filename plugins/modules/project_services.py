#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: project_services
short_description: Enable (or disable) Google Cloud APIs in a project
version_added: 0.1.0
description:
  - Makes sure the listed services are enabled in the project, enabling only those that are not,
    in batches of 20, and waits for the operation.
  - With O(state=absent) the listed services are disabled. Nothing else is ever disabled.
options:
  services:
    description: Service names, for example V(container.googleapis.com).
    type: list
    elements: str
    required: true
  state:
    description: V(present) to enable, V(absent) to disable.
    type: str
    choices: [present, absent]
    default: present
  disable_dependent_services:
    description: With O(state=absent), also disable services that depend on the listed ones.
    type: bool
    default: false
extends_documentation_fragment:
  - gke_inference.multicluster.gcp
  - gke_inference.multicluster.gcp.ATTRIBUTES
  - gke_inference.multicluster.gcp.OPERATION
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: APIs the platform needs
  gke_inference.multicluster.project_services:
    project: my-project
    services:
      - compute.googleapis.com
      - container.googleapis.com
      - storage.googleapis.com
"""

RETURN = r"""
enabled:
  description: The listed services that are enabled after the task.
  returned: success
  type: list
  elements: str
changed_services:
  description: The services this task enabled or disabled (or would, in check mode).
  returned: success
  type: list
  elements: str
"""

import re

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import diff_result
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule

SERVICE_RE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*\.googleapis\.com$")


def chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def main():
    module = GcpModule(
        argument_spec=dict(
            services=dict(type="list", elements="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            disable_dependent_services=dict(type="bool", default=False),
        ),
        timeout=900,
        supports_check_mode=True,
    )
    services = sorted(set(module.params["services"]))
    bad = [s for s in services if not SERVICE_RE.match(s)]
    if bad:
        module.fail_json(msg="services: %s not a service name; use the form container.googleapis.com."
                             % (", ".join(bad) + (" is" if len(bad) == 1 else " are")))
    client = module.client("serviceusage")
    parent = "projects/%s" % module.project
    state = {}
    for batch in chunks(services, 30):
        response = module.call("read the state of services %s" % ", ".join(batch), client.batch_get_services,
                               request=dict(parent=parent, names=["%s/services/%s" % (parent, s) for s in batch]))
        for service in response.services:
            state[service.config.name or service.name.rsplit("/", 1)[-1]] = service.state.name
    want_enabled = module.params["state"] == "present"
    to_change = [s for s in services if (state.get(s) == "ENABLED") != want_enabled]
    if to_change and not module.check_mode:
        if want_enabled:
            for batch in chunks(to_change, 20):
                action = "enable %s" % ", ".join(batch)
                op = module.call(action, client.batch_enable_services,
                                 request=dict(parent=parent, service_ids=batch))
                module.wait_longrunning(op, "serviceusage", action)
        else:
            for service in to_change:
                action = "disable %s" % service
                op = module.call(action, client.disable_service, request=dict(
                    name="%s/services/%s" % (parent, service),
                    disable_dependent_services=module.params["disable_dependent_services"]))
                module.wait_longrunning(op, "serviceusage", action)
    before = sorted(s for s in services if state.get(s) == "ENABLED")
    after = services if want_enabled else []
    module.exit_json(changed=bool(to_change), enabled=after, changed_services=to_change,
                     diff=diff_result({"enabled": before}, {"enabled": after}))


if __name__ == "__main__":
    main()
