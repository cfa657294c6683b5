"""The failover drill's and the load test's figures (plugins/filter/drill_report.py)."""

from ansible_collections.gke_inference.multicluster.plugins.filter.drill_report import (
    drill_report, percentile, spillover_report)

PRIMARY = "us-east5"
OTHER = "europe-west4"
MARKS = {"outage_started": 10.0, "primary_gone": 14.0, "restore_started": 30.0, "restored": 40.0}


def req(start, region, ok=True, latency=0.5, stage=0):
    return {"start": start, "region": region if ok else "", "ok": ok, "status": 200 if ok else 503,
            "latency": latency, "stage": stage, "error": None if ok else "HTTP 503 Service Unavailable"}


def stream(failover_at=12.0, back_at=33.0, failures=()):
    out = []
    for tenth in range(0, 500, 5):
        t = tenth / 10.0
        region = OTHER if failover_at <= t < back_at else PRIMARY
        out.append(req(t, region, ok=t not in failures))
    return out


def test_clean_failover_and_restore():
    report = drill_report(stream(), MARKS, PRIMARY, {"max_failover_seconds": 5, "max_error_share": 0.01,
                                                     "max_restore_seconds": 10})
    assert report["passed"] and report["problems"] == []
    assert report["failover_seconds"] == 2.0 and report["back_to_normal_seconds"] == 3.0
    assert report["failed"] == 0 and report["error_share"] == 0.0
    assert report["phases"]["before"]["by_region"] == {PRIMARY: 20}
    assert report["phases"]["after"]["by_region"] == {PRIMARY: 20}


def test_failover_time_counts_from_the_last_request_the_primary_or_an_error_answered():
    records = stream(failover_at=12.0, failures=(15.0,))  # a straggler failed after traffic had moved
    report = drill_report(records, MARKS, PRIMARY, {"max_failover_seconds": 5, "max_error_share": 0.0})
    assert report["failover_seconds"] == 5.5  # the next request after the failure
    assert report["failed"] == 1 and report["errors"] == {"HTTP 503 Service Unavailable": 1}
    assert not report["passed"]
    assert report["problems"] == ["failover took 5.5 s, more than max_failover_seconds 5",
                                  "1 of 80 requests failed during the drill (1.2%), more than max_error_share 0.0"]


def test_no_failover_is_reported_as_such():
    records = [req(t / 2.0, PRIMARY, ok=t / 2.0 < 10) for t in range(0, 100)]
    report = drill_report(records, MARKS, PRIMARY, {})
    assert report["failover_seconds"] is None and not report["passed"]
    assert any("never answered by another region" in p for p in report["problems"])


def test_without_a_region_header_requests_after_the_primary_is_gone_count_as_elsewhere():
    records = [dict(r, region="") for r in stream(failover_at=14.0, back_at=33.0)]
    report = drill_report(records, MARKS, PRIMARY, {})
    assert report["failover_seconds"] == 4.0  # primary_gone - outage_started


def test_percentiles():
    assert percentile([], 50) is None
    assert percentile([1, 2, 3, 4], 50) == 2 and percentile([1, 2, 3, 4], 99) == 4


def test_spillover_names_the_stage_and_the_utilization():
    stages = [{"rate": 1, "duration": 5}, {"rate": 10, "duration": 5}]
    records = [req(t, PRIMARY, stage=0) for t in range(5)] + \
        [req(5 + t / 10.0, OTHER if t % 3 == 0 and t > 10 else PRIMARY, stage=1) for t in range(50)]
    samples = [{"time": 5 + t / 5.0, "region": PRIMARY, "usage": min(1.0, t / 10.0)} for t in range(25)]
    report = spillover_report(records, samples, PRIMARY, stages, 60)
    assert report["spill_started"] and report["spill_stage"] == 1
    assert report["stages"][0]["spilled_share"] == 0.0 and report["stages"][1]["spilled_share"] > 0
    assert report["preferred_utilization_at_spill"] == 60.0  # the last sample before the first spilled request
    assert report["preferred_utilization_sample_age"] == 0.0  # taken at the same time as that request
    later = [dict(sample, time=sample["time"] - 0.5) for sample in samples]
    assert spillover_report(records, later, PRIMARY, stages, 60)["preferred_utilization_sample_age"] == 0.1


def test_the_figures_agree_with_each_other():
    """The failed share is of the requests sent from the outage on, and the report says how many those were
    (the summary printed 'failed of all requests' beside a share of the drill's requests)."""
    report = drill_report(stream(failures=(12.5, 13.0)), MARKS, PRIMARY, {"max_error_share": 0.0})
    assert report["requests"] == 100 and report["drill_requests"] == 80 and report["failed"] == 2
    assert report["error_share"] == round(2 / 80.0, 4)
    assert "2 of 80 requests failed during the drill (2.5%)" in report["problems"][0]


def test_the_report_keeps_every_request_and_draws_it():
    """Reports keep every request (so that it can be plotted afterwards) and become a page to look at: one dot per
    answered request in its region's colour, a red x per failure, the drill's marks; self-contained."""
    from ansible_collections.gke_inference.multicluster.plugins.filter.drill_report import report_html

    report = drill_report(stream(failures=(12.5,)), MARKS, PRIMARY, {})
    first = {"t": 0.0, "latency": 0.5, "region": PRIMARY, "ok": True, "stage": 0}
    assert len(report["series"]) == 100 and report["series"][0] == first
    assert report["marks_at"]["outage_started"] == 10.0
    page = report_html(report, "Failover drill <us-east5>")
    assert page.count('<circle class="ok"') == 99 and page.count('class="failed"') == 1
    assert "<title>Failover drill &lt;us-east5&gt;</title>" in page and ">outage<" in page and ">restored<" in page
    assert "%s</span>" % OTHER in page and "<script" not in page and "src=" not in page


def test_the_load_test_report_keeps_its_requests_and_samples():
    records = [req(t, PRIMARY if t < 5 else OTHER, stage=0 if t < 5 else 1) for t in range(10)]
    samples = [{"time": t, "region": PRIMARY, "usage": 0.1 * t} for t in range(10)]
    report = spillover_report(records, samples, PRIMARY, [{"rate": 1}, {"rate": 5}], 60)
    assert len(report["series"]) == 10 and report["series"][5]["region"] == OTHER
    assert report["utilization"][3] == {"t": 3, "region": PRIMARY, "usage": 0.30000000000000004}
