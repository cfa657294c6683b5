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
  - At the start of each play it also loads, in the controller, the plugins that most of the collection's tasks use
    (its lookups, filters and tests, the action plugins of its task kinds, ansible-core's filter and test plugins,
    the local connection), so that each worker finds them loaded instead of reading and importing their code again.
  - It keeps the modules' AnsiballZ payloads from one run to the next (C(payload_store)). ansible-core builds each
    module's payload once per run, parsing the module and every module_utils file it imports (150-350 ms of CPU for
    each of the 20-odd modules of C(site.yml)). At the end of a run each payload is kept, in a folder only this user
    can enter, with the SHA-256 of every file in it; at the start of the next, a kept payload whose files are all
    unchanged (the same SHA-256) and found at the same place goes back where ansible-core looks for the
    payloads it built in the run. See C(plugins/plugin_utils/payload_store.py).
  - It changes no result, variable or output. Against the emulator the first two saved about 17% of the CPU time of a
    no-op run of C(site.yml) at 2 regions (the benchmark in C(tests/bench)), the payloads kept about 4 CPU-seconds more.
  - Enabled in the collection's C(ansible.cfg) (C(callbacks_enabled)). Off with C(GKE_INFERENCE_LEAN_FORKS=0).
options:
  enabled:
    description: Whether to freeze the controller's objects before each task's workers are forked.
    type: bool
    default: true
    env:
      - name: GKE_INFERENCE_LEAN_FORKS
  payload_store:
    description: Whether to keep the modules' payloads from one run to the next (only when O(enabled) is true too).
    type: bool
    default: true
    env:
      - name: GKE_INFERENCE_PAYLOAD_STORE
"""

import gc
import os

from ansible.plugins import loader
from ansible.plugins.callback import CallbackBase
from ansible_collections.gke_inference.multicluster.plugins.plugin_utils import payload_store

# The plugins nearly every task of the collection's playbooks loads (by the name a task gives it): the interpreter
# and module_defaults lookups, the manifests' template lookup, the action plugins of its kinds of task.
PLUGINS = {
    "lookup_loader": ("gke_inference.multicluster.gcp_defaults", "gke_inference.multicluster.module_host",
                      "ansible.builtin.template", "ansible.builtin.env"),
    "action_loader": ("ansible.builtin.normal", "ansible.builtin.set_fact", "ansible.builtin.assert",
                      "ansible.builtin.validate_argument_spec", "ansible.builtin.debug", "ansible.builtin.fail",
                      "ansible.builtin.include_vars", "kubernetes.core.k8s", "kubernetes.core.k8s_info"),
    "connection_loader": ("ansible.builtin.local",),
    "shell_loader": ("ansible.builtin.sh",),
    # one name of each of ansible-core's filter and test files loads that file
    "filter_loader": ("ansible.builtin.to_json", "ansible.builtin.unique", "ansible.builtin.regex_escape"),
    "test_loader": ("ansible.builtin.changed", "ansible.builtin.file", "ansible.builtin.version",
                    "ansible.builtin.match"),
}
COLLECTION = "gke_inference.multicluster"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gke_inference.multicluster.lean_forks"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.active, self.loaded, self.payloads, self.restored = True, False, True, None

    def set_options(self, *args, **kwargs):
        super(CallbackModule, self).set_options(*args, **kwargs)
        self.active = bool(self.get_option("enabled"))
        self.payloads = self.active and bool(self.get_option("payload_store"))

    def v2_playbook_on_play_start(self, play):
        if self.active:
            gc.unfreeze()
            if not self.loaded:
                self.loaded = True
                preload()
                if self.payloads:
                    try:
                        self.restored = payload_store.restore()
                    except Exception:  # pylint: disable=broad-except
                        self.restored = None  # ansible-core builds them, as without the store

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
        if self.restored is not None:
            try:
                payload_store.save(skip=self.restored)
            except Exception:  # pylint: disable=broad-except
                pass


def collection_names(kind):
    """The names of the collection's filter or test plugins (each file's FilterModule or TestModule)."""
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), kind)
    names = []
    for entry in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if entry.endswith(".py") and not entry.startswith("_"):
            names.append("%s.%s" % (COLLECTION, entry[:-3]))
    return names


def preload():
    """Load the plugins of PLUGINS, and the collection's filters, in this (the controller's) process; best effort:
    a plugin that does not load here loads in the worker as it would have."""
    wanted = dict(PLUGINS, filter_loader=PLUGINS["filter_loader"] + tuple(collection_names("filter")))
    for name, plugins in wanted.items():
        plugin_loader = getattr(loader, name)
        for plugin in plugins:
            try:
                plugin_loader.get_with_context(plugin, class_only=True)
            except Exception:  # pylint: disable=broad-except
                pass
