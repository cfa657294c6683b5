#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: project_info
short_description: Read a project's number and state
version_added: 0.1.0
description:
  - Returns the project's number, which Workload Identity Federation principals
    (C(principal://iam.googleapis.com/projects/NUMBER/...)) need.
options: {}
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gke_inference.multicluster.attributes.info_module
  - gke_inference.multicluster.gcp
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Project number
  gke_inference.multicluster.project_info:
    project: my-project
  register: project
"""

RETURN = r"""
project_id:
  description: The project id.
  returned: success
  type: str
  sample: my-project
project_number:
  description: The project number.
  returned: success
  type: str
  sample: "123456789012"
state:
  description: The project's lifecycle state.
  returned: success
  type: str
  sample: ACTIVE
workload_pool:
  description: The GKE Workload Identity pool of the project.
  returned: success
  type: str
  sample: my-project.svc.id.goog
"""

from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule


def main():
    module = GcpModule(argument_spec=dict(), supports_check_mode=True)
    client = module.client("projects")
    project = module.call("read project %s" % module.project, client.get_project, name="projects/%s" % module.project)
    module.exit_json(changed=False, project_id=project.project_id, project_number=project.name.split("/", 1)[1],
                     state=project.state.name, workload_pool="%s.svc.id.goog" % project.project_id)


if __name__ == "__main__":
    main()
