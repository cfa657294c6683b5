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
      the outage on, what failed and error_share count), failed, error_share, passed, problems; series (every
      request - t, latency, region, ok, stage - for plotting) and marks_at (the marks in seconds from the first
      request).
  type: dict
"""


import json

from ansible_collections.gke_inference.multicluster.plugins.plugin_utils.charts import (
    FAILED, PERCENTILE_COLOURS, SPILL_COLOUR, UTILIZATION_COLOUR, latency_percentiles, line_chart, rate_by_region,
    spill_and_utilization)


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
            "drill_requests": len(drill), "failed": failed, "error_share": share,
            "series": series(records, records[0]["start"] if records else down),
            "marks_at": {name: round(float(value) - (records[0]["start"] if records else down), 3)
                         for name, value in marks.items() if value}, "errors": errors, "thresholds": thresholds,
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
    at = age = None
    if first is not None:
        before = [s for s in samples if s["region"] == preferred and s["time"] <= first["start"]]
        if before:  # the samples come in time order; the last one before the first spilled request, and how old it was
            at, age = round(before[-1]["usage"] * 100, 1), round(first["start"] - before[-1]["time"], 2)
    origin = records[0]["start"] if records else 0
    return {"preferred": preferred, "threshold_percent": threshold, "stages": out,
            "series": series(records, origin),
            "utilization": [{"t": round(x["time"] - origin, 3), "region": x["region"], "usage": x["usage"]}
                            for x in samples],
            "spill_started": first is not None, "spill_started_at": first["start"] if first else None,
            "spill_stage": first.get("stage") if first else None, "preferred_utilization_at_spill": at,
            "preferred_utilization_sample_age": age}


def upgrade_report(requests, rolls, max_failed=0):
    """The rolling upgrade's figures: the steady stream before, during and after the rolls, and during each
    region's roll (``rolls``: [{region, started, ended, result}] in epoch seconds, in order)."""
    records = sorted(requests or [], key=lambda r: r["start"])
    done = [r for r in rolls if r.get("started")]
    first = min([float(r["started"]) for r in done] or [0.0])
    last = max([float(r.get("ended") or r["started"]) for r in done] or [0.0])
    per_region = []
    for roll in done:
        start, end = float(roll["started"]), float(roll.get("ended") or last)
        per_region.append(dict(roll, seconds=round(end - start, 3),
                               traffic=phase_stats([r for r in records if start <= r["start"] < end])))
    failed = len([r for r in records if not r.get("ok")])
    problems = []
    if failed > max_failed:
        problems.append("%d of %d requests failed (at most %d allowed)" % (failed, len(records), max_failed))
    problems += ["%s: %s" % (r["region"], r["result"]) for r in rolls if r.get("result") not in ("upgraded",)]
    origin = records[0]["start"] if records else first
    marks_at = {}
    for roll in done:
        marks_at["%s rolled" % roll["region"]] = round(float(roll["started"]) - origin, 3)
        if roll.get("ended"):
            marks_at["%s serves" % roll["region"]] = round(float(roll["ended"]) - origin, 3)
    return {"requests": len(records), "failed": failed, "rolls": per_region,
            "phases": {"before": phase_stats([r for r in records if r["start"] < first]),
                       "during": phase_stats([r for r in records if first <= r["start"] < last]),
                       "after": phase_stats([r for r in records if r["start"] >= last])},
            "passed": not problems, "problems": problems, "series": series(records, origin), "marks_at": marks_at}


def series(records, origin):
    """Every request, for plotting: seconds since ``origin``, latency, answering region, success, stage."""
    return [{"t": round(r["start"] - origin, 3), "latency": r.get("latency"), "region": r.get("region") or "",
             "ok": bool(r.get("ok")), "stage": r.get("stage", 0)} for r in records]


COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#17becf")
MARK_NAMES = {"outage_started": "outage", "primary_gone": "primary gone", "restore_started": "restore",
              "restored": "restored"}


def report_html(report, title):
    """A self-contained HTML page (inline SVG, no script, nothing fetched) of a drill's or load test's report:
    each request's latency over time, coloured by the region that answered, failures in red, the drill's marks
    or the load test's stages; then the figures."""
    import html

    points = report.get("series") or []
    width, height, left, bottom, top = 900, 320, 60, 40, 20
    t_max = max([p["t"] for p in points] + [1.0])
    lat = [p["latency"] for p in points if p.get("ok") and p.get("latency") is not None]
    l_max = max(lat + [0.001]) * 1.1
    regions = sorted({p["region"] for p in points if p.get("ok")})
    colour = dict((region, COLOURS[i % len(COLOURS)]) for i, region in enumerate(regions))

    def x(t):
        return left + (width - left - 10) * t / t_max

    def y(value):
        return top + (height - top - bottom) * (1 - value / l_max)
    svg = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
           % (width, height, html.escape("latency of each request over time"))]
    svg.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (left, height - bottom, width - 10,
                                                                          height - bottom))
    svg.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (left, top, left, height - bottom))
    for i in range(5):
        value = l_max * i / 4
        label = '<text x="%d" y="%.1f" font-size="10" text-anchor="end">%.2f s</text>'
        svg.append(label % (left - 4, y(value) + 3, value))
        t = t_max * i / 4
        label = '<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%.0f s</text>'
        svg.append(label % (x(t), height - bottom + 14, t))
    for name, at in sorted((report.get("marks_at") or {}).items(), key=lambda item: item[1]):
        mark = ('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999" stroke-dasharray="4 3"/>'
                '<text x="%.1f" y="%d" font-size="10">%s</text>')
        svg.append(mark % (x(at), top, x(at), height - bottom, x(at) + 2, top + 10,
                           html.escape(MARK_NAMES.get(name, name))))
    for p in points:
        if p.get("ok") and p.get("latency") is not None:
            svg.append('<circle class="ok" cx="%.1f" cy="%.1f" r="2" fill="%s"><title>%s</title></circle>' % (
                x(p["t"]), y(p["latency"]), colour[p["region"]],
                html.escape("%.2f s: %s, %.3f s" % (p["t"], p["region"] or "?", p["latency"]))))
        else:
            svg.append('<text class="failed" x="%.1f" y="%d" font-size="10" fill="#d62728" text-anchor="middle">'
                       'x<title>%s</title></text>' % (x(p["t"]), height - bottom - 4,
                                                      html.escape("%.2f s: failed" % p["t"])))
    svg.append("</svg>")
    charts = "".join(traffic_charts(report, points, colour, t_max))
    legend = " ".join('<span style="color:%s">&#9679; %s</span>' % (colour[r], html.escape(r)) for r in regions)
    legend += ' <span style="color:#d62728">x failed</span>'
    figures = {k: v for k, v in report.items() if k not in ("series", "utilization", "marks", "marks_at")}
    rows = "".join("<tr><th>%s</th><td><code>%s</code></td></tr>" % (html.escape(str(k)), html.escape(
        json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else str(v))) for k, v in sorted(figures.items()))
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title>"
            "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em;vertical-align:top}"
            "</style></head><body><h1>%s</h1>%s<h2>Every request</h2><p>%s</p>%s<p>Each request by the time it was "
            "sent; the height is its latency.</p><table>%s</table></body></html>\n" % (
                html.escape(title), html.escape(title), charts, legend, "".join(svg), rows))


def traffic_charts(report, points, colour, t_max):
    """Requests per second by answering region, latency percentiles over time, and (load test) the spilled share
    against the preferred region's utilization; with the drill's marks."""
    marks = dict((MARK_NAMES.get(name, name), at) for name, at in (report.get("marks_at") or {}).items())
    out = [line_chart("Requests per second by answering region", rate_by_region(points),
                      dict(colour, failed=FAILED), "/s", t_max, marks),
           line_chart("Latency percentiles (successful requests, 2 s windows)", latency_percentiles(points),
                      PERCENTILE_COLOURS, " s", t_max, marks)]
    if report.get("utilization") is not None and report.get("preferred"):
        lines = spill_and_utilization(points, report["utilization"], report["preferred"])
        threshold = report.get("threshold_percent")
        out.append(line_chart("Spill-over against the utilization of %s" % report["preferred"], lines,
                              {"spilled share": SPILL_COLOUR, "%s utilization" % report["preferred"]: UTILIZATION_COLOUR},
                              "", t_max, marks, y_max=1.05,
                              guide=("maxUtilizationPercent %s %%" % threshold, threshold / 100.0) if threshold else None))
    return out


class FilterModule(object):
    def filters(self):
        return {"drill_report": drill_report, "spillover_report": spillover_report, "report_html": report_html,
                "upgrade_report": upgrade_report}
