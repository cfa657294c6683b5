"""The emulator's layout (issue 19): modules import each other in one direction only, at the top of the file
(core imports none of the modules that register with it), and no file grows past about 400 lines."""

import ast
import os

import pytest

FOLDER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "emulator")
MODULES = sorted(f[:-3] for f in os.listdir(FOLDER) if f.endswith(".py"))


def imports(name):
    """(package modules imported at the top level, package modules imported inside functions)."""
    with open(os.path.join(FOLDER, name + ".py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    top, nested = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found = {node.module} if node.module else {alias.name for alias in node.names}
            (top if node in tree.body else nested).update(found)
    return top, nested


def test_no_import_loop_and_none_hidden_in_a_function():
    graph = {}
    for name in MODULES:
        top, nested = imports(name)
        assert not nested, "%s imports %s inside a function" % (name, sorted(nested))
        graph[name] = top - {"__main__"}
    state = {}

    def visit(node, path):
        if state.get(node) == "done":
            return
        assert state.get(node) != "open", "import loop: %s" % " -> ".join(path + [node])
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, path + [node])
        state[node] = "done"

    for name in graph:
        visit(name, [])
    assert graph["core"] <= {"discovery"}, graph["core"]


@pytest.mark.parametrize("name", MODULES)
def test_no_file_above_about_400_lines(name):
    with open(os.path.join(FOLDER, name + ".py"), encoding="utf-8") as handle:
        assert len(handle.read().splitlines()) <= 440, name


KUBE_SIDE = [name for name in MODULES if name.startswith("kube") or name in ("dataplane", "model_server")]


@pytest.mark.parametrize("name", KUBE_SIDE)
def test_the_kubernetes_side_changes_google_state_only_through_the_google_side_modules(name):
    """A cluster's controllers (GKE's firewall rules, the objects a pod writes through GCS FUSE) call compute.py or
    storage.py, which check and complete the resource as the API does, instead of writing the store themselves."""
    with open(os.path.join(FOLDER, name + ".py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    writes = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete))
              for target in (node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target])
              if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Attribute)
              and target.value.attr == "store"]
    assert not writes, "%s writes the emulator's store at lines %s" % (name, writes)
