# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: accelerator_profiles
short_description: One part of every accelerator profile, by profile name
version_added: 0.1.1
description:
  - The collection describes each accelerator profile (C(tpu_v6e), C(gpu_h100)) once, in
    C(plugins/module_utils/accelerators.py); the roles, the preflight and the verification read it through this
    filter.
  - C(pool) is the node pool the clusters role creates, C(server) the model server the workload role runs on it,
    C(quota) where the preflight reads the pool's quota.
positional: _input
options:
  _input:
    description: The part - C(pool), C(server) or C(quota).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The node pools of the profiles
  ansible.builtin.debug:
    msg: "{{ ('pool' | gke_inference.multicluster.accelerator_profiles)['tpu_v6e'].machine_type }}"
"""

RETURN = r"""
_value:
  description: That part of each profile, by profile name.
  type: dict
"""

import copy

from ansible_collections.gke_inference.multicluster.plugins.module_utils.accelerators import PROFILES, quota_check


def accelerator_profiles(part):
    if part not in ("pool", "server", "quota"):
        # a plain error (Ansible reports it as the filter's): importing ansible.errors here would load the
        # controller's display into every process that imports this filter, the test suite's included
        raise ValueError("accelerator_profiles: %r is not a part of a profile; use pool, server or quota." % (part,))
    return {name: copy.deepcopy(profile[part]) for name, profile in PROFILES.items()}


def preflight_quota(regions):
    """The preflight_info quota entries of the regions whose profile is known."""
    out = []
    for region in regions:
        pool = region.get("pool") or {}
        entry = quota_check(pool.get("profile"), pool, region.get("region"))
        if entry is not None:
            out.append(entry)
    return out


class FilterModule(object):
    def filters(self):
        return {"accelerator_profiles": accelerator_profiles, "preflight_quota": preflight_quota}
