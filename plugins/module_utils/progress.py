# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Progress of a module's long wait, for the controller to show while the module runs.

A module cannot print before it returns. When the controller's ``gke_inference.multicluster.progress``
callback is enabled it sets ``GKE_INFERENCE_PROGRESS_DIR`` (a private folder of the run); the waiter then
writes what it waits for, its state and the time spent into one small file per module process, and the
callback prints it once a minute. Without the variable this does nothing. Only the action's description
and the operation's state are written: never arguments, never credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

ENV = "GKE_INFERENCE_PROGRESS_DIR"


def report(action, state, elapsed, clock=time.time):
    folder = os.environ.get(ENV)
    if not folder or not os.path.isdir(folder):
        return
    path = os.path.join(folder, "%d.json" % os.getpid())
    try:
        with open(path + ".tmp", "w") as handle:
            json.dump({"action": action, "state": state, "elapsed": round(elapsed, 1), "time": clock()}, handle)
        os.replace(path + ".tmp", path)
    except (IOError, OSError):  # progress must never fail a module
        pass


def done():
    folder = os.environ.get(ENV)
    if folder:
        try:
            os.remove(os.path.join(folder, "%d.json" % os.getpid()))
        except (IOError, OSError):
            pass


def state_of(op):
    """A short state for an operation of any of the APIs (RUNNING, PENDING...), or ''."""
    for attr in ("status", "state"):
        value = getattr(op, attr, None)
        if value is not None and not isinstance(value, (dict, list)):
            return getattr(value, "name", None) or str(value)
    if isinstance(op, dict):
        return str(op.get("status") or op.get("state") or ("DONE" if op.get("done") else "RUNNING"))
    if hasattr(op, "done"):
        return "DONE" if op.done else "RUNNING"
    return ""
