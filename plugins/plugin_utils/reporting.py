# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the progress and drift callbacks print, as plain functions (no controller import, so that tests of them
leave the module tests' process as it was)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

EMPTY = (None, [], {}, "")


def duration(seconds):
    """1m05s, 12s, 1h02m."""
    seconds = int(round(seconds))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % divmod(seconds, 60)
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)


def progress_lines(running, reports, now, interval):
    """The lines to print: one per task running longer than ``interval``, with the operation its module reports
    when there is one fresh enough. ``running``: {(host, task uuid): (host, task name, start)}; ``reports``: the
    modules' latest reports."""
    fresh = sorted((r for r in reports if now - r.get("time", 0) <= 2 * interval), key=lambda r: r.get("action", ""))
    lines, used = [], set()
    for host, name, start in sorted(running.values(), key=lambda item: item[2]):
        if now - start < interval:
            continue
        # the module of this task: a report whose description names the host's resource, else the task alone
        match = next((r for r in fresh if id(r) not in used and host.split("-", 1)[-1] in r.get("action", "")), None)
        if match is not None:
            used.add(id(match))
            lines.append("%s: %s - %s, %s" % (host, match["action"], match.get("state") or "waiting",
                                              duration(match.get("elapsed", now - start))))
        else:
            lines.append("%s: %s - running, %s" % (host, name, duration(now - start)))
    return lines


def timing_table(plays, end):
    """One row per play: its name and duration."""
    if not plays:
        return []
    width = max(len(name) for name, _start in plays)
    rows = []
    for index, (name, start) in enumerate(plays):
        stop = plays[index + 1][1] if index + 1 < len(plays) else end
        rows.append("%s  %s" % (name.ljust(width), duration(stop - start).rjust(6)))
    total = "total".ljust(width) + "  " + duration(end - plays[0][1]).rjust(6)
    return ["Time per phase:"] + rows + [total]


def differences(before, after, path="", limit=20):
    """``path: before -> after`` for each leaf that differs (at most ``limit``)."""
    out = []

    def walk(old, new, where):
        if len(out) >= limit or (old in EMPTY and new in EMPTY):
            return  # an empty list and an absent one say the same
        if isinstance(old, dict) and isinstance(new, dict):
            for key in sorted(set(old) | set(new), key=str):
                walk(old.get(key), new.get(key), "%s.%s" % (where, key) if where else str(key))
        elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            for index, (one, other) in enumerate(zip(old, new)):
                walk(one, other, "%s[%d]" % (where, index))
        elif old != new:
            out.append("%s: %s -> %s" % (where or "(value)", _short(old), _short(new)))
    walk(before, after, path)
    return out


def _short(value, width=120):
    text = "(absent)" if value is None else json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= width else text[:width - 3] + "..."


def describe(result):
    """The fields a changed result would change, from its diff (or diffs of a loop)."""
    if result.get("censored") or result.get("_ansible_no_log"):
        return ["(hidden: no_log)"]
    diffs = result.get("diff")
    if isinstance(diffs, dict):
        diffs = [diffs]
    out = []
    # kubernetes.core.k8s with several definitions: one result per object, each with its own diff
    for item in ((result.get("result") or {}).get("results") or []) if not diffs else []:
        if isinstance(item, dict) and item.get("changed"):
            obj = item.get("result") or {}
            label = "%s/%s" % (obj.get("kind", "?"), (obj.get("metadata") or {}).get("name", "?"))
            diff = item.get("diff") or {}
            out.extend("%s %s" % (label, line) for line in differences(diff.get("before") or {}, diff.get("after") or {}))
    for diff in diffs or []:
        before, after = diff.get("before"), diff.get("after")
        if isinstance(before, str) or isinstance(after, str):
            out.append("%s -> %s" % (_short(before), _short(after)))
        else:
            out.extend(differences(before or {}, after or {}))
    return out or ["(would change; no diff given)"]
