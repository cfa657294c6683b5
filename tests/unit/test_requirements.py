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
