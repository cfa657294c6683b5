# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The modules' AnsiballZ payloads kept from one run to the next (the lean_forks callback's ``payload_store``).

ansible-core builds the payload of each module once per run (the module and every module_utils file it imports,
found by parsing them): 150-350 ms of CPU for each of the 20-odd modules a run of ``site.yml`` uses, about a fifth
of a no-op run's CPU at 2 regions. It keeps them in the run's local temporary folder (``ansiballz_cache``), which
goes with the run.

At the end of a run, each payload of that folder is kept in a folder only this user can enter, with a manifest of
the files it holds: where each came from on this controller, and its SHA-256. Only a payload whose every file is the
file on disk now, byte for byte, is kept (aside from the two package files ansible-core writes itself, the same for a
release). At the start of the next run, a kept payload goes back into that run's folder when each of its files still
comes from the same place (the same collection path, the same ansible-core) and has the same SHA-256 (reading and
hashing the 50-odd files of a payload costs a few milliseconds, building it a few hundred). ansible-core then finds
it as if it had built it in this run. Kept per ansible-core release and Python; anything unexpected keeps nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import importlib.util
import io
import json
import os
import pickle
import sys
import zipfile

import ansible
from ansible import constants as C
from ansible.release import __version__ as ANSIBLE_VERSION
from ansible_collections.gke_inference.multicluster.plugins.module_utils.kube_auth import write_file
from ansible_collections.gke_inference.multicluster.plugins.module_utils.turbo import private_folder

SUFFIX = "-none"  # payloads without a debugger or coverage extension (ansible-core's cache file names end so)
# The package files ansible-core writes into every payload itself (module_common's recursive_finder), the same for a
# release: the store is kept per release
MADE = ("ansible/__init__.py", "ansible/module_utils/__init__.py")


def store_folder():
    """The folder of kept payloads for this ansible-core and Python, or None when it is not private."""
    return private_folder("payloads", "%s-%s" % (ANSIBLE_VERSION, sys.implementation.cache_tag))


def run_folder():
    """ansible-core's payload folder of this run (created with the run's local temporary folder)."""
    return os.path.join(C.DEFAULT_LOCAL_TMP, "ansiballz_cache")  # pylint: disable=no-member


def keepable(name):
    return name.endswith(SUFFIX) and not name.startswith("ansible.legacy.") and "/" not in name


def source_of(member, roots):
    """The file a payload's member comes from on this controller now, or None (no file: a package marker)."""
    parts = member.split("/")
    if parts[0] == "ansible" and len(parts) > 1:
        if "ansible" not in roots:
            roots["ansible"] = os.path.dirname(os.path.dirname(os.path.abspath(ansible.__file__)))
        return os.path.join(roots["ansible"], *parts)
    if parts[0] == "ansible_collections" and len(parts) > 3:
        key = tuple(parts[1:3])
        if key not in roots:
            try:
                spec = importlib.util.find_spec("ansible_collections.%s.%s" % key)
                locations = list(spec.submodule_search_locations or []) if spec else []
            except (ImportError, ValueError):
                locations = []
            roots[key] = os.path.abspath(locations[0]) if locations else None
        return os.path.join(roots[key], *parts[3:]) if roots[key] else None
    return None


def _manifest(raw, roots):
    """{member: [source, sha256]} of a payload file of ansible-core, or None when it cannot be kept."""
    cached = pickle.loads(raw)  # nosec - ansible-core's own file of this run
    members = {}
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(cached.zip_data))) as archive:
        for info in archive.infolist():
            if info.filename in MADE:
                continue
            data = archive.read(info)
            source = source_of(info.filename, roots)
            if source is None or not os.path.isfile(source):
                if data.strip():
                    return None  # content that is not a file here (a redirect): not kept
                continue
            with open(source, "rb") as handle:
                if handle.read() != data:
                    return None  # changed during the run
            members[info.filename] = [source, hashlib.sha256(data).hexdigest()]
    return members or None


def save(skip=()):
    """Keep this run's payloads (except the names in ``skip``, which came from the store); returns the names kept."""
    store, folder, kept, roots = store_folder(), run_folder(), [], {}
    if store is None or not os.path.isdir(folder):
        return kept
    for name in sorted(os.listdir(folder)):
        if not keepable(name) or name in skip:
            continue
        try:
            with open(os.path.join(folder, name), "rb") as handle:
                raw = handle.read()
            members = _manifest(raw, roots)
            if members is None:
                continue
            write_file(os.path.join(store, name), raw, 0o600)
            write_file(os.path.join(store, name + ".json"), json.dumps({"members": members}, sort_keys=True), 0o600)
            kept.append(name)
        except Exception:  # pylint: disable=broad-except
            continue  # anything unexpected (another ansible-core's format): not kept
    return kept


def _unchanged(members, roots):
    for member, (source, digest) in members.items():
        if source_of(member, roots) != source:
            return False  # found elsewhere now (another collection path, another ansible-core)
        with open(source, "rb") as handle:
            if hashlib.sha256(handle.read()).hexdigest() != digest:
                return False
    return True


def restore():
    """Put the kept payloads whose files are unchanged into this run's payload folder; returns their names."""
    store, folder, restored, roots = store_folder(), run_folder(), [], {}
    if store is None:
        return restored
    os.makedirs(folder, exist_ok=True)
    for entry in sorted(os.listdir(store)):
        name = entry[:-len(".json")]
        if not entry.endswith(".json") or not keepable(name) or os.path.exists(os.path.join(folder, name)):
            continue
        try:
            with open(os.path.join(store, entry), "rb") as handle:
                members = json.loads(handle.read())["members"]
            if not _unchanged(members, roots):
                continue
            with open(os.path.join(store, name), "rb") as handle:
                write_file(os.path.join(folder, name), handle.read(), 0o600)
            restored.append(name)
        except Exception:  # pylint: disable=broad-except
            continue  # a payload that cannot be read or checked: ansible-core builds it
    return restored
