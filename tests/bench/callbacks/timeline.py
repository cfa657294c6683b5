"""A callback for the benchmark (tests/bench/bench.py --timeline): each task result of each host, with when it
started and ended, as JSON lines in the file named by GKE_INFERENCE_TIMELINE, and each play's start. Test
tooling, not part of the collection: it shows where a deployment's wall time goes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: timeline
type: aggregate
short_description: When each task of each host started and ended (the benchmark's --timeline)
description: Writes JSON lines to the file named by GKE_INFERENCE_TIMELINE.
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "timeline"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._out = open(os.environ["GKE_INFERENCE_TIMELINE"], "a", encoding="utf-8")  # pylint: disable=consider-using-with
        self._starts = {}
        self._play = ""

    def _write(self, record):
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name()
        self._write({"play": self._play, "time": time.time()})

    def v2_runner_on_start(self, host, task):
        self._starts[(host.get_name(), task._uuid)] = time.time()

    def _result(self, result, status):
        key = (result._host.get_name(), result._task._uuid)
        self._write({"host": key[0], "task": result._task.get_name(), "play": self._play, "status": status,
                     "start": self._starts.pop(key, None), "end": time.time()})

    def v2_runner_on_ok(self, result):
        self._result(result, "changed" if result._result.get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")
