# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: one_host_each
short_description: One host for each distinct value of a fact
version_added: 0.1.1
description:
  - Takes hosts' variables (C(ansible_play_batch | map('extract', hostvars))) and the name of a fact that says what
    a host would do once for several hosts (for example the project and account of a service account every region
    shares), and returns the first host, in the given order, for each distinct non-empty value of that fact.
  - A task that ensures such a shared thing runs on those hosts only, instead of once on every host (each run a
    module process of its own) or with C(run_once), which would follow the first host's values alone.
positional: _input, fact
options:
  _input:
    description: The hosts' variables, in play order.
    type: list
    elements: dict
    required: true
  fact:
    description: The name of the fact. Hosts without it, or where it is empty, are left out.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The shared service account, once for each project and account
  ansible.builtin.include_tasks: shared_account.yml
  when: >-
    inventory_hostname in (ansible_play_batch | map('extract', hostvars)
    | gke_inference.multicluster.one_host_each('__shared_account_key'))
"""

RETURN = r"""
_value:
  description: The inventory names of the chosen hosts.
  type: list
  elements: str
"""


def one_host_each(hosts, fact):
    """The first host of ``hosts`` (hostvars) for each distinct non-empty value of ``fact``."""
    chosen, seen = [], []
    for host in hosts or []:
        value = host.get(fact)
        if value in (None, "", [], {}) or value in seen:
            continue
        seen.append(value)
        chosen.append(host.get("inventory_hostname"))
    return chosen


class FilterModule(object):
    def filters(self):
        return {"one_host_each": one_host_each}
