# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: unavailable_deployments
short_description: The Deployments of a k8s_info loop that are not Available
version_added: 0.1.0
description:
  - Takes the C(results) of a looped C(kubernetes.core.k8s_info) on Deployments and returns the loop
    items whose Deployment is missing or whose C(Available) condition is not true. Skipped items are ignored.
positional: _input
options:
  _input:
    description: The C(results) of the loop.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Which are not ready
  ansible.builtin.debug:
    msg: "{{ waited.results | gke_inference.multicluster.unavailable_deployments }}"
"""

RETURN = r"""
_value:
  description: The loop items (Deployment names) that are not Available.
  type: list
  elements: str
"""


from ansible_collections.gke_inference.multicluster.plugins.module_utils.conditions import condition


def unavailable(results):
    """Names of the Deployments of a k8s_info loop whose Available condition is not True."""
    out = []
    for result in results or []:
        if result.get("skipped"):
            continue
        resources = result.get("resources") or []
        if not resources or condition(resources[0], "Available").get("status") != "True":
            out.append(result.get("item", "?"))
    return out


def available_in_apply(result):
    """Names of the Deployments that a kubernetes.core.k8s apply (one definition or a list) returned unchanged,
    Available, and with a status that describes their current spec (observedGeneration is their generation)."""
    if not result or result.get("skipped") or result.get("failed"):
        return []
    inner = result.get("result") or {}
    applied = inner.get("results") if isinstance(inner, dict) and "results" in inner else [result]
    out = []
    for item in applied or []:
        obj = item.get("result") or {}
        meta, status = obj.get("metadata") or {}, obj.get("status") or {}
        if (obj.get("kind") != "Deployment" or item.get("changed")
                or status.get("observedGeneration") != meta.get("generation")
                or condition(obj, "Available").get("status") != "True"):
            continue
        out.append(meta.get("name"))
    return out


class FilterModule(object):
    def filters(self):
        return {"unavailable_deployments": unavailable, "available_in_apply": available_in_apply}
