"""inference_traffic's refusals before it sends anything or creates a Job (its measurements are tested through the
drill and the load test on the deployed platform, test_site_operations.py)."""

import pytest


@pytest.mark.parametrize("args,message", [
    ({"run_in": {"kubeconfig": "/nonexistent", "image": "python"}}, "run_in.image: 'python' is not pinned"),
    ({"run_in": {"kubeconfig": "/nonexistent", "image": "python:latest"}}, "is not pinned"),
    ({"run_in": {"kubeconfig": "/nonexistent"}, "proxy": "http://proxy:3128"}, "proxy: not used with run_in"),
    ({"url": "10.0.2.2"}, "url: '10.0.2.2' is not an http(s) URL"),
    ({"stages": [{"rate": 1, "duration": 0}]}, "stages[0]: rate must be >= 0 and duration > 0"),
])
def test_bad_input_sends_nothing(gcp, args, message):
    params = dict(url="http://10.0.2.2", model="m", duration=1)
    params.update(args)
    before = len(gcp.requests())
    result = gcp.run("inference_traffic", auth=False, project=None, api_endpoint=None, **params)
    assert result["failed"] and message in result["msg"], result
    assert len(gcp.requests()) == before
