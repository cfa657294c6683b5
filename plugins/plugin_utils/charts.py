# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Charts of a traffic report for its HTML page: inline SVG line charts (no script, nothing fetched), computed from
the report's per-request series (t, latency, region, ok) and, for the load test, the utilization samples."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import html

FAILED = "#d62728"
# colours of their own (not a region's), so that each chart can be told apart on the page
PERCENTILE_COLOURS = {"p50": "#e377c2", "p95": "#9edae5"}
SPILL_COLOUR, UTILIZATION_COLOUR = "#bcbd22", "#e7ba52"


def _buckets(points, width):
    out = {}
    for point in points:
        out.setdefault(int(point["t"] // width), []).append(point)
    return out


def rate_by_region(series, width=1.0):
    """Requests per second answered by each region, and failed ("failed"), per ``width`` seconds."""
    buckets = _buckets(series, width)
    names = sorted({p["region"] or "?" for p in series if p.get("ok")}) + (["failed"] if any(
        not p.get("ok") for p in series) else [])
    last = max(buckets) if buckets else 0
    lines = dict((name, []) for name in names)
    for index in range(last + 1):
        points = buckets.get(index, [])
        for name in names:
            count = sum(1 for p in points if _counts(p, name))
            lines[name].append(((index + 0.5) * width, count / float(width)))
    return lines


def _counts(point, name):
    if name == "failed":
        return not point.get("ok")
    return bool(point.get("ok")) and (point["region"] or "?") == name


def latency_percentiles(series, width=2.0, levels=(50, 95)):
    """The latency percentiles of the successful requests sent in each ``width`` seconds."""
    lines = dict(("p%d" % level, []) for level in levels)
    for index, points in sorted(_buckets([p for p in series if p.get("ok") and p.get("latency") is not None],
                                         width).items()):
        values = sorted(p["latency"] for p in points)
        for level in levels:
            rank = min(len(values) - 1, max(0, int(round(level / 100.0 * len(values) + 0.5)) - 1))
            lines["p%d" % level].append(((index + 0.5) * width, values[rank]))
    return lines


def spill_and_utilization(series, utilization, preferred, width=1.0):
    """Per ``width`` seconds, the share of answered requests another region answered, and the preferred region's
    KV-cache utilization as sampled (both between 0 and 1)."""
    share = []
    for index, points in sorted(_buckets([p for p in series if p.get("ok")], width).items()):
        share.append(((index + 0.5) * width, sum(1 for p in points if p["region"] != preferred) / float(len(points))))
    usage = [(u["t"], u["usage"]) for u in utilization or [] if u.get("region") == preferred and u.get("usage") is not None]
    return {"spilled share": share, "%s utilization" % preferred: usage}


def line_chart(label, lines, colours, y_unit, t_max, marks=None, y_max=None, guide=None):
    """An SVG line chart: one polyline per entry of ``lines`` ({name: [(t, value)]}), dashed vertical ``marks``
    ({name: t}) and an optional dashed horizontal ``guide`` (label, value)."""
    width, height, left, bottom, top = 900, 220, 60, 30, 20
    values = [v for points in lines.values() for _t, v in points]
    y_max = y_max or max(values + [guide[1] if guide else 0, 1e-6]) * 1.1
    t_max = max(t_max, 1.0)

    def x(t):
        return left + (width - left - 10) * t / t_max

    def y(value):
        return top + (height - top - bottom) * (1 - value / y_max)
    svg = ['<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" role="img" aria-label="%s">'
           % (width, height, html.escape(label)),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (left, height - bottom, width - 10, height - bottom),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333"/>' % (left, top, left, height - bottom)]
    for i in range(5):
        svg.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end">%.2f%s</text>'
                   % (left - 4, y(y_max * i / 4) + 3, y_max * i / 4, y_unit))
        svg.append('<text x="%.1f" y="%d" font-size="10" text-anchor="middle">%.0f s</text>'
                   % (x(t_max * i / 4), height - bottom + 14, t_max * i / 4))
    for name, at in sorted((marks or {}).items(), key=lambda item: item[1]):
        mark = ('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999" stroke-dasharray="4 3"/>'
                '<text x="%.1f" y="%d" font-size="10">%s</text>')
        svg.append(mark % (x(at), top, x(at), height - bottom, x(at) + 2, top + 10, html.escape(name)))
    if guide:
        line = ('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#555" stroke-dasharray="2 2"/>'
                '<text x="%d" y="%.1f" font-size="10">%s</text>')
        svg.append(line % (left, y(guide[1]), width - 10, y(guide[1]), left + 4, y(guide[1]) - 3, html.escape(guide[0])))
    for name, points in sorted(lines.items()):
        if points:
            svg.append('<polyline class="series" data-series="%s" fill="none" stroke="%s" stroke-width="2" points="%s">'
                       '<title>%s</title></polyline>' % (
                           html.escape(name), colours.get(name, "#333"),
                           " ".join("%.1f,%.1f" % (x(t), y(min(v, y_max))) for t, v in points), html.escape(name)))
    svg.append("</svg>")
    legend = " ".join('<span style="color:%s">&#9644; %s</span>' % (colours.get(name, "#333"), html.escape(name))
                      for name in sorted(lines) if lines[name])
    return '<h2>%s</h2><p>%s</p>%s' % (html.escape(label), legend, "".join(svg))
