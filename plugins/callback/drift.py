# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: drift
type: aggregate
short_description: Records what a check-mode run would change, for the drift check
version_added: 0.1.1
description:
  - In a run in check mode, records every task that would change something - the host, the task, and which fields
    differ between the live value and the inventory's (from the task's diff) - into a file of the run
    (C(GKE_INFERENCE_DRIFT_FILE), set by this callback), which C(playbooks/drift.yml) reads at its end to report
    the drift and fail when there is any. Outside check mode it does nothing.
  - Results hidden with C(no_log) are recorded by task name only.
  - Enabled in the collection's C(ansible.cfg) (C(callbacks_enabled)).
"""

import json
import os
import tempfile

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.gke_inference.multicluster.plugins.plugin_utils.reporting import describe

ENV = "GKE_INFERENCE_DRIFT_FILE"
# tasks that report "changed" without touching anything the platform owns
IGNORED = ("set_fact", "debug", "assert", "include_tasks", "include_role", "async_status", "meta", "tempfile",
           "file", "copy", "template")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gke_inference.multicluster.drift"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.path = None
        if context.CLIARGS.get("check"):
            handle, self.path = tempfile.mkstemp(prefix="gke-inference-drift-", suffix=".json")
            os.close(handle)
            os.environ[ENV] = self.path  # lookup('env') of the run's last play reads it
            self.found = []
            self._write()

    def _write(self):
        with open(self.path + ".tmp", "w") as handle:
            json.dump(self.found, handle)
        os.replace(self.path + ".tmp", self.path)

    def _record(self, result, items=None):
        action = result._task.action.rsplit(".", 1)[-1]
        if self.path is None or action in IGNORED:
            return
        entries = items if items is not None else [result._result]
        for entry in entries:
            if entry.get("changed"):
                self.found.append({"host": result._host.get_name(), "task": result._task.get_name().strip(),
                                   "item": str(entry.get("_ansible_item_label", entry.get("item", ""))
                                               if "item" in entry and not entry.get("_ansible_no_log") else ""),
                                   "differences": describe(entry)})
        self._write()

    def v2_runner_on_ok(self, result):
        if "results" in result._result:
            return  # a loop: its items were recorded one by one
        self._record(result)

    def v2_runner_item_on_ok(self, result):
        self._record(result)

    def v2_playbook_on_stats(self, stats):
        if self.path:
            for suffix in ("", ".tmp"):
                try:
                    os.remove(self.path + suffix)
                except OSError:
                    pass
