# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn the records of inference_traffic into the failover drill's and the load test's reports."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: drill_report
short_description: The failover drill's figures from a traffic stream and the drill's time marks
version_added: 0.1.0
description:
  - Splits the requests into before / during / after the outage, gives counts, failures and latency
    percentiles per phase, the failover time (outage start to the first request from which on every
    request is answered by another region until the restore), the time back to normal (restore start
    to the first request from which on every request is answered by the primary again), and checks
    them against the thresholds.
  - A request whose response did not name its region counts as served by another region when it was
    sent after the primary had no pod left (C(primary_gone) in O(marks)).
positional: _input
options:
  _input:
    description: The RV(gke_inference.multicluster.inference_traffic#module:requests) of the stream.
    type: list
    elements: dict
    required: true
  marks:
    description: Epoch seconds - outage_started, primary_gone (optional), restore_started, restored (optional).
    type: dict
    required: true
  primary:
    description: The primary region.
    type: str
    required: true
  thresholds:
    description: max_failover_seconds, max_error_share, max_restore_seconds.
    type: dict
    default: {}
"""

EXAMPLES = r"""
report: "{{ stream.requests | gke_inference.multicluster.drill_report(marks, 'us-east5', thresholds) }}"
"""

RETURN = r"""
_value:
  description:
    - The report - phases, failover_seconds, back_to_normal_seconds, requests (all sent), drill_requests (sent from
      the outage on, what failed and error_share count), failed, error_share, passed, problems.
  type: dict
"""


def percentile(values, pct):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(pct / 100.0 * len(ordered) + 0.5)) - 1))
    return round(ordered[index], 4)


def phase_stats(records):
    ok = [r for r in records if r.get("ok")]
    latencies = [r["latency"] for r in ok]
    by_region = {}
    for record in ok:
        by_region[record.get("region") or "unknown"] = by_region.get(record.get("region") or "unknown", 0) + 1
    return {"requests": len(records), "ok": len(ok), "failed": len(records) - len(ok),
            "by_region": by_region, "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
            "p99": percentile(latencies, 99)}


def _stable_from(records, good):
    """The first record from which on every record is good (None if the last one is not)."""
    first = None
    for record in records:
        if good(record):
            if first is None:
                first = record
        else:
            first = None
    return first


def drill_report(requests, marks, primary, thresholds=None):
    thresholds = thresholds or {}
    records = sorted(requests or [], key=lambda r: r["start"])
    down = float(marks["outage_started"])
    restore = float(marks.get("restore_started") or 0) or None
    restored = float(marks.get("restored") or 0) or None
    gone = float(marks.get("primary_gone") or 0) or None
    before = [r for r in records if r["start"] < down]
    during = [r for r in records if r["start"] >= down and (restored is None or r["start"] < restored)]
    after = [r for r in records if restored is not None and r["start"] >= restored]

    def elsewhere(record):
        if not record.get("ok"):
            return False
        if record.get("region"):
            return record["region"] != primary
        return gone is not None and record["start"] >= gone

    def at_primary(record):
        return record.get("ok") and (record.get("region") or primary) == primary

    outage = [r for r in records if r["start"] >= down and (restore is None or r["start"] < restore)]
    first = _stable_from(outage, elsewhere)
    failover = round(first["start"] - down, 3) if first is not None else None
    back = None
    if restore is not None:
        first_back = _stable_from([r for r in records if r["start"] >= restore], at_primary)
        back = round(first_back["start"] - restore, 3) if first_back is not None else None
    drill = [r for r in records if r["start"] >= down]
    failed = sum(1 for r in drill if not r.get("ok"))
    share = round(failed / float(len(drill)), 4) if drill else 0.0
    errors = {}
    for record in drill:
        if not record.get("ok"):
            errors[record.get("error") or "HTTP %s" % record.get("status")] = errors.get(
                record.get("error") or "HTTP %s" % record.get("status"), 0) + 1
    problems = []
    if not before or not any(at_primary(r) for r in before):
        problems.append("baseline: no request was answered by the primary region %s before the outage" % primary)
    if failover is None:
        problems.append("failover: after the primary went down, requests were never answered by another "
                        "region (is a secondary region healthy?)")
    elif thresholds.get("max_failover_seconds") is not None and failover > float(thresholds["max_failover_seconds"]):
        problems.append("failover took %.1f s, more than max_failover_seconds %s" % (
            failover, thresholds["max_failover_seconds"]))
    if thresholds.get("max_error_share") is not None and share > float(thresholds["max_error_share"]):
        problems.append("%d of %d requests failed during the drill (%.1f%%), more than max_error_share %s" % (
            failed, len(drill), share * 100, thresholds["max_error_share"]))
    if restore is not None and back is None:
        problems.append("restore: requests were not answered by the primary region %s again" % primary)
    elif back is not None and thresholds.get("max_restore_seconds") is not None and \
            back > float(thresholds["max_restore_seconds"]):
        problems.append("back to normal took %.1f s, more than max_restore_seconds %s" % (
            back, thresholds["max_restore_seconds"]))
    return {"primary": primary, "marks": marks, "phases": {"before": phase_stats(before), "during": phase_stats(during),
                                                           "after": phase_stats(after)},
            "failover_seconds": failover, "back_to_normal_seconds": back, "requests": len(records),
            "drill_requests": len(drill), "failed": failed, "error_share": share, "errors": errors, "thresholds": thresholds,
            "passed": not problems, "problems": problems}


def spillover_report(requests, samples, preferred, stages=None, threshold=None):
    """Per stage: the rate, where requests went, the preferred region's utilization; and when spill-over began."""
    records = sorted(requests or [], key=lambda r: r["start"])
    samples = [s for s in samples or [] if s.get("usage") is not None]
    out = []
    for index, stage in enumerate(stages or [{}]):
        mine = [r for r in records if r.get("stage", 0) == index]
        if not mine:
            continue
        start, end = mine[0]["start"], mine[-1]["start"]
        usage = [s["usage"] for s in samples if s["region"] == preferred and start <= s["time"] <= end + 1]
        stats = phase_stats(mine)
        ok = stats["ok"] or 1
        out.append({"stage": index, "rate": stage.get("rate"), "requests": stats["requests"], "failed": stats["failed"],
                    "by_region": stats["by_region"],
                    "spilled_share": round(sum(n for r, n in stats["by_region"].items() if r != preferred) / float(ok), 4),
                    "preferred_utilization_max": round(max(usage) * 100, 1) if usage else None,
                    "p50": stats["p50"], "p95": stats["p95"]})
    first = next((r for r in records if r.get("ok") and r.get("region") and r["region"] != preferred), None)
    at = None
    if first is not None:
        before = [s["usage"] for s in samples if s["region"] == preferred and s["time"] <= first["start"]]
        at = round(before[-1] * 100, 1) if before else None
    return {"preferred": preferred, "threshold_percent": threshold, "stages": out,
            "spill_started": first is not None, "spill_started_at": first["start"] if first else None,
            "spill_stage": first.get("stage") if first else None, "preferred_utilization_at_spill": at}


class FilterModule(object):
    def filters(self):
        return {"drill_report": drill_report, "spillover_report": spillover_report}
