# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: gcp_defaults
short_description: The module defaults of the collection's Google Cloud modules, from the inventory's variables
version_added: 0.1.1
description:
  - Returns, as one dictionary, the options every module of the action group
    C(group/gke_inference.multicluster.gcp) shares, read from the inventory variables that name them
    (the README's inventory table), as follows.
    C(project) from C(gcp_project_id), C(api_endpoint) from C(gcp_api_endpoint), C(auth_kind) from
    C(gcp_auth_kind), C(service_account_file) from C(gcp_service_account_file) and
    C(operation_poll_max) from C(gcp_operation_poll_max).
  - A variable that is not defined (or is null) is left out, so the module's own default applies
    (for C(auth_kind), its environment variables and then Application Default Credentials).
  - The collection's playbooks and Molecule scenarios set their C(module_defaults) with it, so that which
    variable feeds which option is written once.
options: {}
"""

EXAMPLES = r"""
- name: A play of the platform's hosts
  hosts: inference_regions
  module_defaults:
    group/gke_inference.multicluster.gcp: "{{ lookup('gke_inference.multicluster.gcp_defaults') }}"
  roles:
    - gke_inference.multicluster.network
"""

RETURN = r"""
_raw:
  description: One dictionary of module options.
  type: list
  elements: dict
  sample: [{project: my-project, auth_kind: application}]
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

# option of the gcp action group: the inventory variable that sets it
OPTIONS = (
    ("project", "gcp_project_id"),
    ("api_endpoint", "gcp_api_endpoint"),
    ("auth_kind", "gcp_auth_kind"),
    ("service_account_file", "gcp_service_account_file"),
    ("operation_poll_max", "gcp_operation_poll_max"),
)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleError("lookup gke_inference.multicluster.gcp_defaults takes no terms (got %r)" % (terms,))
        variables = variables or {}
        out = {}
        for option, name in OPTIONS:
            if variables.get(name) is None:
                continue
            value = self._templar.template(variables[name])
            if value is not None:
                out[option] = value
        if "project" not in out:
            raise AnsibleError("gcp_project_id: not set for this host; set it in the inventory (group_vars/all.yml) "
                               "to the project the platform lives in.")
        return [out]
