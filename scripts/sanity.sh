#!/usr/bin/env bash
# ansible-test sanity only runs from .../ansible_collections/<namespace>/<name>/: copy the checkout's
# files (tracked and untracked-but-not-ignored) into such a tree and run it there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
venv=$(cd "$VENV" && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dest="$root/ansible_collections/gke_inference/multicluster"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$dest"
# ansible-test bootstraps pip in each of its virtualenvs with a get-pip script it downloads from a
# host outside the package registries. Give it a stand-in of our own: the checkout's pip installs the
# requested pip into the new virtualenv (pip --python), without byte-compiling, which takes 2 s
# where ensurepip and a pip upgrade took 8 s per virtualenv. PIP_NO_COMPILE does the same for the
# test requirements ansible-test installs next (Python compiles what it imports, when it imports it).
pip_version=$("$VENV/bin/python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
match = re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements.get_venv_packages))
print(match.group(1) if match else "")
PY
)
if [ -n "$pip_version" ]; then
  cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  mkdir -p "$(dirname "$cache")"
  cat > "$cache" <<'PY'
"""Stand-in for get-pip.py (written by scripts/sanity.sh): install the requested pip from PyPI."""
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
host = os.environ.get("GKE_INFERENCE_SANITY_PIP_PYTHON")
if host:
    subprocess.check_call([host, "-m", "pip", "--python", sys.executable, "install", "--no-compile"] + args)
else:
    subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
fi
export GKE_INFERENCE_SANITY_PIP_PYTHON="$venv/bin/python" PIP_NO_COMPILE=1
cd "$dest"
# ansible-test lists the collection's files with git when it is a repository
git init -q && git add -A >/dev/null
"$venv/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
