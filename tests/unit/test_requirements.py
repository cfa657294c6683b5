"""The minimum-versions job installs tests/requirements-min.txt: it must pin exactly the lower bound
requirements.txt allows of every package, or the job proves nothing about those bounds."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _lines(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as handle:
        return [line.split("#")[0].strip() for line in handle if line.split("#")[0].strip()]


def test_the_minimum_versions_are_the_lower_bounds():
    bounds = {}
    for line in _lines("requirements.txt"):
        match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]+\])?\s*>=\s*([0-9][0-9.]*)", line)
        assert match, "requirements.txt: %r has no lower bound" % line
        bounds[match.group(1).lower()] = match.group(3)
    pins = dict(line.lower().split("==") for line in _lines("tests/requirements-min.txt"))
    assert pins == {name: _full(version) for name, version in bounds.items()}


def _full(version):
    """2.30 -> 2.30.0, 29 -> 29.0.0 (pip's 'at least 29' and 'exactly 29.0.0' are the same release)."""
    return version + ".0" * (2 - version.count("."))


def test_the_kubernetes_core_found_is_in_galaxy_ymls_range_and_the_minimum_job_has_its_lower_bound():
    """inference_gateway runs on kubernetes.core's client and apply: the minimum-versions job installs the
    lowest kubernetes.core galaxy.yml allows (scripts/test.sh MIN_COLLECTIONS), the suite's own venv a newer one."""
    import json
    import sys

    from ansible_collections.kubernetes import core
    import yaml

    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        bound = yaml.safe_load(handle)["dependencies"]["kubernetes.core"]
    low, high = re.match(r"^>=([0-9.]+),<([0-9.]+)$", bound).groups()
    with open(os.path.join(list(core.__path__)[0], "MANIFEST.json"), encoding="utf-8") as handle:
        found = json.load(handle)["collection_info"]["version"]

    def key(version):
        return tuple(int(part) for part in version.split("."))
    assert key(low) <= key(found) < key(high), (found, bound)
    if os.path.basename(sys.prefix) == ".venv-min":
        assert key(found) == key(low), "the minimum-versions job must run kubernetes.core %s, not %s" % (low, found)
