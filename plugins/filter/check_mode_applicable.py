# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: check_mode_applicable
short_description: The manifests that one kubernetes.core.k8s call can apply, or dry-run in check mode
version_added: 0.1.0
description:
  - Outside check mode, returns every manifest.
  - In check mode, leaves out what a server-side dry run would refuse because an earlier step of the
    same run would have created it first - objects in a namespace that does not exist yet, and objects
    of a kind whose CustomResourceDefinition the run would install.
positional: _input
options:
  _input:
    description: The manifests, in the order they are applied.
    type: list
    elements: dict
    required: true
  check_mode:
    description: Whether the run is in check mode (C(ansible_check_mode)).
    type: bool
    required: true
  namespaces:
    description: The names of the namespaces that exist in the cluster (only read in check mode).
    type: list
    elements: str
    default: []
  new_kinds:
    description: Kinds whose CRD does not exist yet (only read in check mode).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Apply a role's objects in one call
  kubernetes.core.k8s:
    apply: true
    definition: "{{ manifests | gke_inference.multicluster.check_mode_applicable(ansible_check_mode, ['default']) }}"
"""

RETURN = r"""
_value:
  description: The manifests to apply, in their order.
  type: list
  elements: dict
"""


def check_mode_applicable(manifests, check_mode, namespaces=None, new_kinds=None):
    if not check_mode:
        return list(manifests or [])
    namespaces, new_kinds = set(namespaces or []), set(new_kinds or [])
    return [m for m in manifests or [] if m.get("kind") not in new_kinds
            and ("namespace" not in (m.get("metadata") or {}) or m["metadata"]["namespace"] in namespaces)]


class FilterModule(object):
    def filters(self):
        return {"check_mode_applicable": check_mode_applicable}
