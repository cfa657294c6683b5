# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: module_host
short_description: A Python interpreter for modules that runs them in the run's module host
version_added: 0.1.0
description:
  - Returns the path of a small launcher for the controller's Python (the one running C(ansible-playbook)),
    meant for C(ansible_python_interpreter) on hosts with C(ansible_connection=local), as the collection's
    inventories set it.
  - The launcher runs each module's AnsiballZ script in a fork of the run's module host (see
    C(plugins/module_utils/turbo.py)), which imported Google's client libraries and the Kubernetes client once,
    instead of in a new Python process that imports them again (about 1 CPU-second for each
    C(kubernetes.core.k8s) or C(k8s_info) call). The modules are unchanged and answer exactly as they would.
  - The collection's own modules and C(kubernetes.core)'s start the host when there is none; other modules use
    it only when it is up. Async tasks and anything unexpected run in their own process, as without it.
  - The script may be a file or, with pipelining (C(ansible_pipelining), which the collection's inventories
    turn on), the launcher's stdin.
  - With C(GKE_INFERENCE_TURBO=0) in the controller's environment it returns the controller's Python itself.
  - The launcher is written to a folder only this user can enter, under the system's temporary directory, with
    C(turbo.py) compiled beside it (the launcher starts before every module, and Python keeps no byte-code where
    E(PYTHONDONTWRITEBYTECODE) is set). It starts with the controller's Python as its C(#!) line (kernels limit
    that line to 127 characters or more).
options:
  start:
    description:
      - Also start the module host in the background when none is up or starting, and return at once. site.yml
        does this in its first play, so that the run's first module finds the host loaded (or nearly) instead of
        starting it and waiting about two seconds for Google's and Kubernetes' libraries to load.
      - Nothing is started with C(GKE_INFERENCE_TURBO=0).
    type: bool
    default: false
"""

EXAMPLES = r"""
# In inventories/prod/group_vars/all.yml:
#   ansible_connection: local
#   ansible_python_interpreter: "{{ lookup('gke_inference.multicluster.module_host') }}"
#   ansible_pipelining: true

# A playbook's first task: the host loads its libraries while the run's checks go on
- name: Start the module host
  ansible.builtin.set_fact:
    module_host_interpreter: "{{ lookup('gke_inference.multicluster.module_host', start=true) }}"
"""

RETURN = r"""
_raw:
  description: The interpreter path (the launcher, or the controller's Python).
  type: list
  elements: str
"""

import glob
import importlib.util
import marshal
import os
import sys
import zlib

from ansible.plugins.lookup import LookupBase
from ansible_collections.gke_inference.multicluster.plugins.module_utils.kube_auth import write_file

HERE = os.path.dirname(os.path.realpath(__file__))
TURBO = os.path.join(os.path.dirname(HERE), "module_utils", "turbo.py")
# Modules whose libraries cost a new process most (the host is started for them)
HEAVY = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(os.path.dirname(HERE), "modules", "*.py"))
               if not os.path.basename(p).startswith("_")) + ["k8s*", "helm*"]


def _load_turbo():
    """plugins/module_utils/turbo.py (module_utils are not importable on the controller), loaded with this plugin:
    once in the controller, whose task workers inherit it; and its source, which the launcher runs compiled."""
    if not os.path.isfile(TURBO):
        return None, b""
    try:
        with open(TURBO, "rb") as handle:
            source = handle.read()
        spec = importlib.util.spec_from_file_location("_gke_inference_turbo", TURBO)
        turbo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(turbo)
    except Exception:  # pylint: disable=broad-except
        return None, b""  # the controller's Python itself: modules run as Ansible runs them
    return turbo, source


# (two assignments: ansible-doc warns about a tuple assignment at a plugin's top level)
_LOADED = _load_turbo()
TURBO_MODULE = _LOADED[0]
TURBO_SOURCE = _LOADED[1]
# It runs before every module: it loads turbo.py as the lookup compiled it (beside the launcher; Python writes no
# byte-code where PYTHONDONTWRITEBYTECODE is set, as on many CI machines), without importlib's own imports.
LAUNCHER = '''#!%(python)s
# Written by the lookup gke_inference.multicluster.module_host: runs an AnsiballZ script in the module host
import marshal
import sys

turbo = type(sys)("_gke_inference_turbo")
turbo.__file__ = %(turbo)r
try:
    with open(%(code)r, "rb") as handle:
        code = marshal.loads(handle.read())
except (OSError, EOFError, ValueError, TypeError):  # removed since then: compiled from the source
    with open(turbo.__file__, "rb") as handle:
        code = compile(handle.read(), turbo.__file__, "exec")
exec(code, turbo.__dict__)
turbo.launch(sys.argv, heavy=%(heavy)r, folder=%(folder)r)
'''


def _write(folder, name, make, mode):
    """Write a file of the private folder at once (``make`` gives its bytes), unless it is there already. The lookup
    runs for every task: only the first of a run, or of a new release, writes."""
    path = os.path.join(folder, name)
    if not os.path.exists(path):
        write_file(path, make(), mode)
    return path


def launcher_path():
    """Write the launcher for this controller's Python (when it is not there yet) and return its path."""
    if os.environ.get("GKE_INFERENCE_TURBO", "1").strip().lower() in ("0", "false", "no", "off") \
            or not os.path.isdir("/proc/self") or TURBO_MODULE is None:
        return sys.executable
    if len(sys.executable) > 120 or any(c.isspace() for c in sys.executable):
        return sys.executable  # not a path every kernel takes on a #! line
    try:
        folder = TURBO_MODULE.private_folder()
        if folder is None:
            return sys.executable  # not a folder only we can enter
        code = _write(folder, "turbo-%08x-%s.code" % (zlib.crc32(TURBO_SOURCE), sys.implementation.cache_tag),
                      lambda: marshal.dumps(compile(TURBO_SOURCE, TURBO, "exec")), 0o600)
        text = LAUNCHER % {"python": sys.executable, "turbo": TURBO, "code": code, "heavy": HEAVY, "folder": folder}
        path = _write(folder, "python-%08x" % zlib.crc32(text.encode()), text.encode, 0o700)
    except OSError:
        return sys.executable  # no launcher: modules run in their own process, as without it
    return path


def start_host():
    """Start the module host in the background (plugins/module_utils/turbo.py's prestart); False when it was not."""
    if TURBO_MODULE is None:
        return False
    try:
        return TURBO_MODULE.prestart()
    except OSError:
        return False  # modules start it themselves, as without this


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        path = launcher_path()
        if self.get_option("start") and path != sys.executable:
            start_host()
        return [path]
