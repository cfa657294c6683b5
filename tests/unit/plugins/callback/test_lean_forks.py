"""The lean_forks callback, loaded as ansible-playbook loads it, in a process of its own (the plugin loader it needs
would replace the suite's collection finder): the controller's objects are frozen when a task's workers are about to
be forked and unfrozen at each play's start and at the end; the plugins most tasks use are loaded at the first play."""

import json
import os
import subprocess
import sys

CHECK = r"""
import gc, json, sys
from ansible.plugins.loader import callback_loader, init_plugin_loader
init_plugin_loader()
names = ("ansible_collections.gke_inference.multicluster.plugins.lookup.gcp_defaults",
         "ansible_collections.gke_inference.multicluster.plugins.lookup.module_host",
         "ansible_collections.gke_inference.multicluster.plugins.filter.check_mode_applicable",
         "ansible_collections.kubernetes.core.plugins.action.k8s")
seen = {"loaded_before": [n in sys.modules for n in names]}
plugin = callback_loader.get("gke_inference.multicluster.lean_forks")
plugin.set_options()
seen["active"] = plugin.active
garbage = []
garbage.append(garbage)  # an object of the controller's heap, as any task leaves some
plugin.v2_playbook_on_play_start(None)
seen["loaded_after"] = [n in sys.modules for n in names]
plugin.v2_playbook_on_task_start(None, False)
seen["task"] = gc.get_freeze_count()
plugin.v2_playbook_on_play_start(None)
seen["play"] = gc.get_freeze_count()
plugin.v2_playbook_on_handler_task_start(None)
seen["handler"] = gc.get_freeze_count()
plugin.v2_playbook_on_stats(None)
seen["end"] = gc.get_freeze_count()
print(json.dumps(seen))
"""


def check(tmp_path, switch):
    env = dict(os.environ, GKE_INFERENCE_LEAN_FORKS=switch)
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True,
                         cwd=str(tmp_path), env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_frozen_for_each_task_released_at_each_play_and_plugins_loaded_before_the_forks(tmp_path):
    seen = check(tmp_path, "1")
    assert seen["active"] is True
    # a fresh controller has none of them; the first play's start loads them, and the workers inherit them
    assert seen["loaded_before"] == [False] * 4 and seen["loaded_after"] == [True] * 4
    assert seen["task"] > 0  # everything the controller held when the workers fork
    assert seen["play"] == 0  # the next play's collections can free what the last one left
    assert seen["handler"] > 0
    assert seen["end"] == 0


def test_off_when_asked(tmp_path):
    seen = check(tmp_path, "0")
    assert seen["active"] is False
    assert seen["loaded_after"] == [False] * 4
    assert seen["task"] == seen["handler"] == 0
