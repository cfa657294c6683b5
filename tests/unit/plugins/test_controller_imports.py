"""What the controller's plugins import.

A filter, lookup, callback or test plugin runs on the controller, and a filter is loaded again by every task
worker that uses it: whatever it imports is paid on each such task. Importing the Kubernetes client there
cost every task that used ``kube_status`` about 0.3 CPU-seconds (a third of the no-op re-run's CPU, issue 22).
So these plugins import the standard library and the collection's light helpers only."""

import glob
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HEAVY = ("kubernetes", "google.cloud", "google.auth", "google.api_core", "google.protobuf", "requests", "urllib3")
PLUGINS = sorted(os.path.relpath(p, ROOT)[:-3].replace(os.sep, ".")
                 for kind in ("filter", "lookup", "callback", "test", "plugin_utils")
                 for p in glob.glob(os.path.join(ROOT, "plugins", kind, "*.py")) if not p.endswith("__init__.py"))

PROGRAM = """
import importlib, json, sys
sys.path.insert(0, sys.argv[1])
importlib.import_module("ansible_collections.gke_inference.multicluster." + sys.argv[2])
print(json.dumps(sorted(sys.modules)))
"""


def test_the_list_is_not_empty():
    assert any(p.startswith("plugins.filter.") for p in PLUGINS) and any(p.startswith("plugins.lookup.") for p in PLUGINS)


@pytest.mark.parametrize("plugin", PLUGINS)
def test_a_controller_plugin_imports_no_client_library(plugin):
    out = subprocess.run([sys.executable, "-c", PROGRAM, os.path.join(ROOT, ".collections"), plugin],
                         capture_output=True, text=True, check=True).stdout
    loaded = json.loads(out)
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert not heavy, "%s imports %s" % (plugin, ", ".join(sorted({".".join(m.split(".")[:2]) for m in heavy})))
