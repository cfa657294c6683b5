# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: progress
type: aggregate
short_description: A line a minute during long waits, and a timing table per phase at the end
version_added: 0.1.1
description:
  - While a task runs for longer than the interval (creating a cluster, a node pool, waiting for the download,
    the rollout or the gateway), prints at least one line per interval per host with what it waits for, its state
    and the time spent, for example C(gke-us-east5 - create cluster gke-us-east5 in us-east5-b - RUNNING, 4m10s)
    (the line starts with the host and a colon).
    The collection's modules report their operation's state through a private folder of the run
    (C(GKE_INFERENCE_PROGRESS_DIR), set by this callback); other tasks are reported by name and time.
  - At the end of the run, prints how long each play (phase) took.
  - Prints only task names, operation descriptions and states; never arguments or results.
  - Enabled in the collection's C(ansible.cfg) (C(callbacks_enabled)); works beside any stdout callback.
options:
  interval:
    description: Seconds between progress lines.
    type: float
    default: 60
    env:
      - name: GKE_INFERENCE_PROGRESS_INTERVAL
    ini:
      - section: gke_inference_progress
        key: interval
"""

import json
import os
import shutil
import tempfile
import threading
import time

from ansible.plugins.callback import CallbackBase
from ansible_collections.gke_inference.multicluster.plugins.plugin_utils.reporting import progress_lines, timing_table

ENV = "GKE_INFERENCE_PROGRESS_DIR"


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "gke_inference.multicluster.progress"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.folder = tempfile.mkdtemp(prefix="gke-inference-progress-")  # 0700
        os.environ[ENV] = self.folder  # the modules this run starts inherit it
        self.running, self.plays = {}, []
        self.lock, self.stop = threading.Lock(), threading.Event()
        self.thread = None
        self.interval = 60.0

    def set_options(self, *args, **kwargs):
        super(CallbackModule, self).set_options(*args, **kwargs)
        self.interval = max(float(self.get_option("interval")), 0.5)

    def _reports(self):
        out = []
        for name in os.listdir(self.folder):
            if name.endswith(".json"):
                try:
                    with open(os.path.join(self.folder, name)) as handle:
                        out.append(json.load(handle))
                except (IOError, OSError, ValueError):
                    continue
        return out

    def _watch(self):
        while not self.stop.wait(self.interval):
            with self.lock:
                running = dict(self.running)
            for line in progress_lines(running, self._reports(), time.time(), self.interval):
                self._display.display(line)

    # -- events --------------------------------------------------------------------------------
    def v2_playbook_on_play_start(self, play):
        self.plays.append((play.get_name().strip() or "play", time.time()))
        if self.thread is None:
            self.thread = threading.Thread(target=self._watch, name="gke-inference-progress", daemon=True)
            self.thread.start()

    def v2_runner_on_start(self, host, task):
        with self.lock:
            self.running[(host.get_name(), task._uuid)] = (host.get_name(), task.get_name().strip(), time.time())

    def _finished(self, result, *args, **kwargs):  # pylint: disable=unused-argument
        with self.lock:
            self.running.pop((result._host.get_name(), result._task._uuid), None)

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _finished

    def v2_runner_on_async_ok(self, result):  # a node pool in the background: its own line per wait is enough
        self._finished(result)

    def v2_playbook_on_stats(self, stats):
        self.stop.set()
        for line in timing_table(self.plays, time.time()):
            self._display.display(line)
        shutil.rmtree(self.folder, ignore_errors=True)
