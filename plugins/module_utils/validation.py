# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks made before any API call, so bad input fails with the field's name and creates nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

NAME_RE = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
ZONE_RE = re.compile(r"^([a-z]+-[a-z]+[0-9]+)-[a-z]$")
PROJECT_RE = re.compile(r"^[a-z][-a-z0-9]{4,28}[a-z0-9]$")


def name_error(field, value):
    if not value or not NAME_RE.match(value):
        return ("%s: '%s' is not a valid resource name: 1-63 characters, lowercase letters, digits and hyphens, "
                "starting with a letter and not ending with a hyphen." % (field, value))
    return None


def bucket_error(field, value):
    if not value or not BUCKET_RE.match(value) or ".." in value or value.startswith("goog") or (
            "." not in value and len(value) > 63):
        return ("%s: '%s' is not a valid bucket name: 3-63 characters (222 with dots), lowercase letters, digits, "
                "'-', '_' and '.', starting and ending with a letter or digit, not starting with 'goog'." % (field, value))
    return None


def project_error(field, value):
    if not value:
        return ("%s is required: set the project id (option project, GCP_PROJECT in the environment, or "
                "gcp_project_id in the inventory)." % field)
    if not PROJECT_RE.match(value):
        return "%s: '%s' is not a valid project id (6-30 characters: lowercase letters, digits, hyphens)." % (field, value)
    return None


def cidr_error(field, value):
    """None for a valid IPv4 CIDR with no host bits set, else the message."""
    try:
        net = ipaddress.ip_network(u"%s" % value, strict=True)
    except ValueError as exc:
        return "%s: '%s' is not a valid IPv4 CIDR range (%s). Example: 10.0.1.0/24." % (field, value, exc)
    if net.version != 4:
        return "%s: '%s' is not an IPv4 range." % (field, value)
    if net.prefixlen > 29:
        return "%s: '%s' is too small; a subnetwork needs at least a /29." % (field, value)
    return None


def zone_error(field, zone, region):
    match = ZONE_RE.match(zone or "")
    if not match:
        return "%s: '%s' is not a zone name (for example europe-west4-a)." % (field, zone)
    if region and match.group(1) != region:
        return ("%s: zone '%s' is not in region '%s'. Use a zone of %s, such as %s-a."
                % (field, zone, region, region, region))
    return None


def region_error(field, region):
    if not region or not REGION_RE.match(region):
        return "%s: '%s' is not a region name (for example us-east5)." % (field, region)
    return None


def overlaps(ranges):
    """Messages for every pair of overlapping ranges; ``ranges`` is a list of (label, cidr)."""
    messages = []
    parsed = []
    for label, cidr in ranges:
        try:
            parsed.append((label, ipaddress.ip_network(u"%s" % cidr, strict=False)))
        except ValueError:
            continue
    for i, (label_a, net_a) in enumerate(parsed):
        for label_b, net_b in parsed[i + 1:]:
            if net_a.overlaps(net_b):
                messages.append("%s (%s) overlaps %s (%s): give every node and proxy-only subnet its own range."
                                % (label_a, net_a, label_b, net_b))
    return messages


LABEL_KEY_RE = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
LABEL_VALUE_RE = re.compile(r"^[a-z0-9_-]{0,63}$")


def label_errors(field, labels):
    """Google Cloud resource labels: at most 64; keys of 1-63 lower-case letters, digits, underscores and dashes
    starting with a letter; values of at most 63 of the same characters."""
    errors = []
    if labels is None:
        return errors
    if not isinstance(labels, dict):
        return ["%s: must be a mapping of label keys to values." % field]
    if len(labels) > 64:
        errors.append("%s: at most 64 labels (%d given)." % (field, len(labels)))
    for key, value in sorted(labels.items(), key=lambda item: str(item[0])):
        if not LABEL_KEY_RE.match(str(key)):
            errors.append("%s: key '%s' must be 1-63 lower-case letters, digits, underscores and dashes, starting "
                          "with a letter." % (field, key))
        if not LABEL_VALUE_RE.match(str(value)):
            errors.append("%s: value '%s' of '%s' must be at most 63 lower-case letters, digits, underscores and "
                          "dashes." % (field, value, key))
    return errors
