"""The reports' HTML pages drawn by a real browser: Debian's headless chromium (scripts/browser.sh installs it when
missing) renders the page of a drill and of a load test to a PNG, and each chart's own colours are on it: requests
per second by answering region (and the failures), latency percentiles over time, the spilled share against the
preferred region's utilization. A page of a report without requests draws none of them."""

import os
import struct
import subprocess
import zlib

import pytest

from ansible_collections.gke_inference.multicluster.plugins.filter.drill_report import (
    COLOURS, drill_report, report_html, spillover_report)
from ansible_collections.gke_inference.multicluster.plugins.plugin_utils.charts import (
    FAILED, PERCENTILE_COLOURS, SPILL_COLOUR, UTILIZATION_COLOUR)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


@pytest.fixture(scope="module")
def chromium():
    done = subprocess.run([os.path.join(ROOT, "scripts", "browser.sh")], capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, "scripts/browser.sh could not install chromium: " + done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


def draw(chromium, page, tmp_path):
    """The page as the browser draws it: {(r, g, b): pixel count}."""
    html_file, png = tmp_path / "page.html", tmp_path / "page.png"
    html_file.write_text(page, encoding="utf-8")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1000,1800", "--screenshot=%s" % png, "file://%s" % html_file],
                   capture_output=True, timeout=120, check=True, cwd=str(tmp_path))
    return pixels(png.read_bytes())


def pixels(data):
    """Colour counts of an 8-bit RGB or RGBA, non-interlaced PNG (what chromium writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour_type, _c, _f, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour_type in (2, 6) and interlace == 0
            size = 4 if colour_type == 6 else 3
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, previous, counts = zlib.decompress(idat), width * size, bytearray(width * size), {}
    for row in range(height):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left = line[i - size] if i >= size else 0
            up, corner = previous[i], previous[i - size] if i >= size else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        for i in range(0, stride, size):
            key = tuple(line[i:i + 3])
            counts[key] = counts.get(key, 0) + 1
        previous = line
    return counts


def drawn(counts, colour, at_least=400):
    """Whether about ``colour`` (anti-aliasing blends the edges) covers at least ``at_least`` pixels: a line across a
    chart, not just its legend's few letters."""
    want = tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return sum(n for rgb, n in counts.items() if all(abs(a - b) <= 12 for a, b in zip(rgb, want))) >= at_least


def drill_records():
    """A drill: us-east5 answers, goes down (a few failures), europe-west4 takes over, us-east5 comes back."""
    records, start = [], 1000.0
    for i in range(150):
        t = i * 0.2
        region = "us-east5" if t < 10 or t >= 20 else "europe-west4"
        failed = 10 <= t < 11
        records.append({"start": start + t, "latency": 0.1 + (i % 7) * 0.02, "status": 0 if failed else 200,
                        "ok": not failed, "region": "" if failed else region, "stage": 0})
    marks = {"outage_started": start + 10, "primary_gone": start + 10.5, "restore_started": start + 18,
             "restored": start + 20}
    return records, marks


def test_the_drill_page_draws_its_charts(chromium, tmp_path):
    records, marks = drill_records()
    report = drill_report(records, marks, "us-east5", {"max_failover_seconds": 60, "max_error_share": 0.5,
                                                       "max_restore_seconds": 1800})
    counts = draw(chromium, report_html(report, "Failover drill"), tmp_path)
    for colour in (COLOURS[0], COLOURS[1], FAILED, PERCENTILE_COLOURS["p50"], PERCENTILE_COLOURS["p95"]):
        assert drawn(counts, colour), "%s is not on the page" % colour
    assert not drawn(counts, SPILL_COLOUR, 1)  # a drill has no utilization chart


def test_the_load_test_page_draws_the_spill_over_against_utilization(chromium, tmp_path):
    records, samples = [], []
    for i in range(200):
        t = 1000.0 + i * 0.05
        records.append({"start": t, "latency": 0.1 + (i % 10) * 0.05, "status": 200, "ok": True, "stage": 0 if i < 100 else 1,
                        "region": "us-east5" if i < 120 or i % 3 else "europe-west4"})
    for i in range(50):
        samples.append({"time": 1000.0 + i * 0.2, "region": "us-east5", "url": "u", "usage": min(0.9, i * 0.02)})
    report = spillover_report(records, samples, "us-east5", [{"rate": 20, "duration": 5}, {"rate": 20, "duration": 5}],
                              60)
    counts = draw(chromium, report_html(report, "Spill-over load test"), tmp_path)
    for colour in (SPILL_COLOUR, UTILIZATION_COLOUR, PERCENTILE_COLOURS["p50"], COLOURS[0], COLOURS[1]):
        assert drawn(counts, colour), "%s is not on the page" % colour


def test_a_report_without_requests_draws_no_chart(chromium, tmp_path):
    thresholds = {"max_failover_seconds": 60, "max_error_share": 0.01, "max_restore_seconds": 1800}
    report = drill_report([], {"outage_started": 1000.0}, "us-east5", thresholds)
    counts = draw(chromium, report_html(report, "Empty"), tmp_path)
    for colour in (COLOURS[0], PERCENTILE_COLOURS["p50"], PERCENTILE_COLOURS["p95"]):
        assert not drawn(counts, colour, 1), colour
