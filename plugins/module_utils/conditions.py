# -*- coding: utf-8 -*-
# Copyright (c) 2026 gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Kubernetes status conditions, for modules and for the controller's filters alike.

Standard library only: a filter plugin is loaded again by every task worker that uses it, so what it
imports is paid on each task (the Kubernetes client costs about 0.3 CPU-seconds)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def condition(obj, kind):
    """The status condition of type ``kind`` of an object dict, or an empty dict."""
    for cond in ((obj or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return cond
    return {}
