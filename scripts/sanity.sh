#!/usr/bin/env bash
# ansible-test sanity only runs from .../ansible_collections/<namespace>/<name>/: copy the checkout's
# files (tracked and untracked-but-not-ignored) into such a tree and run it there.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dest="$root/ansible_collections/gke_inference/multicluster"
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"
done | xargs -0 cp --parents -t "$dest"
# ansible-test bootstraps pip in its virtualenvs with a get-pip script it downloads from a host
# outside the package registries. Give it a stand-in of our own that does the same with the
# standard library's ensurepip and PyPI.
pip_version=$("$VENV/bin/python" - <<'PY'
import inspect, re
from ansible_test._internal import python_requirements
match = re.search(r"pip='([0-9.]+)'", inspect.getsource(python_requirements.get_venv_packages))
print(match.group(1) if match else "")
PY
)
if [ -n "$pip_version" ]; then
  cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
  if [ ! -s "$cache" ]; then
    mkdir -p "$(dirname "$cache")"
    cat > "$cache" <<'PY'
"""Stand-in for get-pip.py: ensurepip, then pip installs the requested packages from PyPI."""
import subprocess
import sys

subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
  fi
fi
cd "$dest"
# ansible-test lists the collection's files with git when it is a repository
git init -q && git add -A >/dev/null
"$OLDPWD/$VENV/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
