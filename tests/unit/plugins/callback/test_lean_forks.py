"""The lean_forks callback: the controller's objects are frozen when a task's workers are about to be forked,
and unfrozen at each play's start and at the end, so that the controller's own collections go on."""

import gc
import os
import subprocess
import sys

import pytest

from ansible.plugins.loader import callback_loader, init_plugin_loader


@pytest.fixture(name="unfrozen")
def fixture_unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def callback(**direct):
    """The callback as ansible-playbook loads it (its options from its documentation and the environment)."""
    init_plugin_loader()
    plugin = callback_loader.get("gke_inference.multicluster.lean_forks")
    plugin.set_options(direct=direct or None)
    return plugin


def test_frozen_for_each_task_and_released_at_each_play_and_the_end(unfrozen):  # pylint: disable=unused-argument
    plugin = callback()
    garbage = []
    garbage.append(garbage)  # an object of the controller's heap, as any task leaves some
    plugin.v2_playbook_on_task_start(None, False)
    frozen = gc.get_freeze_count()
    assert frozen > 0  # everything the controller held when the workers fork
    plugin.v2_playbook_on_play_start(None)
    assert gc.get_freeze_count() == 0  # the next play's collections can free what the last one left
    plugin.v2_playbook_on_handler_task_start(None)
    assert gc.get_freeze_count() > 0
    plugin.v2_playbook_on_stats(None)
    assert gc.get_freeze_count() == 0


def test_off_when_asked(unfrozen, monkeypatch):  # pylint: disable=unused-argument
    monkeypatch.setenv("GKE_INFERENCE_LEAN_FORKS", "0")
    plugin = callback()
    assert plugin.active is False
    plugin.v2_playbook_on_task_start(None, False)
    assert gc.get_freeze_count() == 0
    assert callback(enabled=True).active is True


PRELOAD_CHECK = r"""
import sys
from ansible.plugins.loader import callback_loader, init_plugin_loader
init_plugin_loader()
names = ("ansible_collections.gke_inference.multicluster.plugins.lookup.gcp_defaults",
         "ansible_collections.gke_inference.multicluster.plugins.lookup.module_host",
         "ansible_collections.gke_inference.multicluster.plugins.filter.check_mode_applicable",
         "ansible_collections.kubernetes.core.plugins.action.k8s")
before = [n in sys.modules for n in names]
plugin = callback_loader.get("gke_inference.multicluster.lean_forks")
plugin.set_options()
plugin.v2_playbook_on_play_start(None)
print(before, [n in sys.modules for n in names])
"""


def test_the_plugins_every_worker_needs_are_loaded_before_the_forks(tmp_path):
    """In a fresh controller process the lookups, filters and action plugins the tasks use are not loaded; at the
    first play's start the callback loads them, so that the workers forked after it inherit them."""
    env = dict(os.environ, GKE_INFERENCE_LEAN_FORKS="1")
    out = subprocess.run([sys.executable, "-c", PRELOAD_CHECK], capture_output=True, text=True, check=True,
                         cwd=str(tmp_path), env=env).stdout.strip()
    assert out == "[False, False, False, False] [True, True, True, True]", out
    env["GKE_INFERENCE_LEAN_FORKS"] = "0"
    out = subprocess.run([sys.executable, "-c", PRELOAD_CHECK], capture_output=True, text=True, check=True,
                         cwd=str(tmp_path), env=env).stdout.strip()
    assert out == "[False, False, False, False] [False, False, False, False]", out
