# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: pod_reasons
short_description: Why pods are not ready, one line per pod
version_added: 0.1.0
description:
  - Summarizes the status of each pod (as C(kubernetes.core.k8s_info) returns them) - its phase, and
    the scheduler's or kubelet's reason and message when it is not ready.
positional: _input
options:
  _input:
    description: The pods (C(resources) of C(kubernetes.core.k8s_info)).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Say why
  ansible.builtin.debug:
    msg: "{{ pods.resources | gke_inference.multicluster.pod_reasons }}"
"""

RETURN = r"""
_value:
  description: One line per pod, C(name - phase - reason - message).
  type: list
  elements: str
"""


from ansible_collections.gke_inference.multicluster.plugins.module_utils.conditions import condition


def pod_reasons(pods):
    lines = []
    for pod in pods or []:
        status = pod.get("status") or {}
        name = (pod.get("metadata") or {}).get("name", "?")
        if condition(pod, "Ready").get("status") == "True":
            lines.append("%s - ready" % name)
            continue
        why = ""
        scheduled = condition(pod, "PodScheduled")
        if scheduled.get("status") == "False":
            why = "%s: %s" % (scheduled.get("reason", ""), scheduled.get("message", ""))
        for container in status.get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting")
            if waiting:
                why = "%s: %s" % (waiting.get("reason", ""), waiting.get("message", ""))
        lines.append("%s - %s%s" % (name, status.get("phase", "Unknown"), " - " + why if why else ""))
    return lines


class FilterModule(object):
    def filters(self):
        return {"pod_reasons": pod_reasons}
