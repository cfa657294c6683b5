# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: lean_forks
type: aggregate
short_description: Cheaper task workers, by keeping the controller's objects out of their garbage collections
version_added: 0.1.1
description:
  - Ansible forks a worker process of the controller for each task and host. A fork shares the controller's memory
    until it writes to a page. Python's cyclic garbage collector, when it runs in the worker, writes to every
    object it walks, so the worker copies pages of the controller's memory it never uses.
  - Before each task's workers are forked, this callback moves the objects the controller holds to Python's permanent
    generation (C(gc.freeze)), which the collector does not walk. That is the use Python's documentation gives
    C(gc.freeze) for processes that fork without exec. Each play starts with C(gc.unfreeze), so the controller's own
    collections still free what it no longer uses.
  - It changes no result, variable or output. Against the emulator it saved about 7% of the CPU time of a no-op
    run of C(site.yml) at 2 regions (the benchmark in C(tests/bench)).
  - Enabled in the collection's C(ansible.cfg) (C(callbacks_enabled)). Off with C(GKE_INFERENCE_LEAN_FORKS=0).
options:
  enabled:
    description: Whether to freeze the controller's objects before each task's workers are forked.
    type: bool
    default: true
    env:
      - name: GKE_INFERENCE_LEAN_FORKS
"""

import gc

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gke_inference.multicluster.lean_forks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.active = True

    def set_options(self, *args, **kwargs):
        super(CallbackModule, self).set_options(*args, **kwargs)
        self.active = bool(self.get_option("enabled"))

    def v2_playbook_on_play_start(self, play):
        if self.active:
            gc.unfreeze()

    def _freeze(self):
        if self.active:
            gc.freeze()

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._freeze()

    def v2_playbook_on_handler_task_start(self, task):
        self._freeze()

    def v2_playbook_on_cleanup_task_start(self, task):
        self._freeze()

    def v2_playbook_on_stats(self, stats):
        if self.active:
            gc.unfreeze()
