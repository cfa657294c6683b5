# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired versus actual: what check mode reports and diff mode shows.

Only what the user asked for is compared: a field absent from ``desired`` is not managed, so
fields Google fills in (or other tools own) never show up as changes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

INTEGER = re.compile(r"^-?[0-9]+$")


def _canonical(value):
    """proto3 JSON spelled one way: unset, empty string, list and message are alike; int64 values
    arrive as strings; the order of repeated fields does not matter."""
    if isinstance(value, dict):
        return dict((k, _canonical(v)) for k, v in value.items() if v not in (None, [], {}, ""))
    if isinstance(value, (list, tuple)):
        items = [_canonical(v) for v in value]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, str) and INTEGER.match(value):
        return int(value)
    return value


def compare(desired, actual, path=""):
    """``{dotted.path: (actual, desired)}`` for every managed field that differs.

    Dicts are compared key by key (only keys in ``desired``); lists are compared as unordered
    collections; ``None`` in ``desired`` means "not managed".
    """
    changes = {}
    actual = actual or {}
    for key, want in desired.items():
        if want is None:
            continue
        where = "%s.%s" % (path, key) if path else key
        have = actual.get(key) if isinstance(actual, dict) else None
        if isinstance(want, dict) and isinstance(have, dict):
            changes.update(compare(want, have, where))
        elif isinstance(want, dict) and have is None:
            nested = compare(want, {}, where)
            changes.update(nested)
        elif _canonical(want) != _canonical(have):
            if want in ({}, [], "") and have in (None, {}, [], ""):
                continue
            changes[where] = (have, want)
    return changes


def merged(actual, desired):
    """``actual`` with ``desired`` applied (what the resource will look like after the change)."""
    out = dict(actual or {})
    for key, want in desired.items():
        if want is None:
            continue
        if isinstance(want, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], want)
        else:
            out[key] = want
    return out


def diff_result(before, after):
    """The ``diff`` return value Ansible renders in ``--diff`` mode."""
    return {"before": before or {}, "after": after or {}}
