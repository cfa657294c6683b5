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
# host outside the package registries. Give it a stand-in of our own, which installs the requested pip
# into the new virtualenv with the checkout's uv (or, without it, the checkout's pip, with --python).
# ansible-test runs it with an environment of its own (the variables it knows of, not ours), so the
# stand-in names the tools itself. Measured on 2026-12-03: ensurepip and a pip upgrade (what ran before,
# when the stand-in still read an environment variable that ansible-test drops) took about 7 CPU-s per
# virtualenv, and a cold run of the sanity tests (no virtualenv cached) creates eleven.
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
  {
    echo '"""Stand-in for get-pip.py (written by scripts/sanity.sh): install the requested pip from PyPI."""'
    "$venv/bin/python" -c 'import sys; print("UV = %r\nHOST = %r" % tuple(sys.argv[1:]))' "$venv/bin/uv" "$venv/bin/python"
    cat <<'PY'
import os
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
for tool, command in ((UV, [UV, "pip", "install", "--quiet", "--system-certs", "--python", sys.executable]),
                      (HOST, [HOST, "-m", "pip", "--python", sys.executable, "install", "--no-compile"])):
    if os.access(tool, os.X_OK) and subprocess.call(command + args) == 0:
        sys.exit(0)
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
PY
  } >"$cache.new"
  mv "$cache.new" "$cache"
fi
cd "$dest"
# ansible-test lists the collection's files with git when it is a repository
git init -q && git add -A >/dev/null
"$venv/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
