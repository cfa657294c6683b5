"""The progress callback's lines and timing table, and the modules' side of it (module_utils/progress.py)."""

import json
import os

from ansible_collections.gke_inference.multicluster.plugins.plugin_utils.reporting import (
    duration, progress_lines, timing_table)
from ansible_collections.gke_inference.multicluster.plugins.module_utils import progress
from ansible_collections.gke_inference.multicluster.plugins.module_utils.operations import Waiter
from ansible_collections.gke_inference.multicluster.plugins.module_utils.retry import RetryPolicy


def test_duration():
    assert [duration(s) for s in (4.4, 65, 3725)] == ["4s", "1m05s", "1h02m"]


def test_a_line_per_long_task_with_its_module_report():
    now = 1000.0
    running = {("gke-us-east5", "a"): ("gke-us-east5", "GKE cluster of the region", now - 250),
               ("gke-europe-west4", "b"): ("gke-europe-west4", "Wait for the download", now - 130),
               ("gke-europe-west4", "c"): ("gke-europe-west4", "Quick task", now - 5)}
    reports = [{"action": "create cluster gke-us-east5 in us-east5-b", "state": "RUNNING", "elapsed": 249.6,
                "time": now - 3},
               {"action": "create cluster gke-asia-east1 in asia-east1-a", "state": "RUNNING", "elapsed": 10,
                "time": now - 500}]  # stale: its module is gone
    assert progress_lines(running, reports, now, 60) == [
        "gke-us-east5: create cluster gke-us-east5 in us-east5-b - RUNNING, 4m10s",
        "gke-europe-west4: Wait for the download - running, 2m10s"]


def test_timing_table():
    table = timing_table([("Preflight checks", 0.0), ("Network of every region", 12.0), ("Summary", 80.0)], 81.0)
    assert table[0] == "Time per phase:" and table[-1].startswith("total") and table[-1].endswith("1m21s")
    assert table[2].startswith("Network of every region") and table[2].endswith("1m08s")


def test_the_waiter_reports_what_it_waits_for_and_removes_it_when_done(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.ENV, str(tmp_path))
    seen = []

    class Op:
        def __init__(self, status):
            self.status, self.name = status, "op-1"

    def poll(op):
        seen.append(json.loads((tmp_path / ("%d.json" % os.getpid())).read_text()))
        return Op("DONE" if len(seen) == 2 else "RUNNING")
    clock = iter(range(100)).__next__
    waiter = Waiter(RetryPolicy(), timeout=60, sleep=lambda s: None, clock=clock)
    waiter.wait(Op("PENDING"), poll, lambda op: (op.status == "DONE", None), "create cluster gke-us-east5")
    assert [(r["action"], r["state"]) for r in seen] == [("create cluster gke-us-east5", "PENDING"),
                                                         ("create cluster gke-us-east5", "RUNNING")]
    assert list(tmp_path.iterdir()) == []  # done: nothing left for the callback to print


def test_without_the_callback_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    progress.report("x", "RUNNING", 1.0)
    assert list(tmp_path.iterdir()) == []
