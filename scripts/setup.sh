#!/usr/bin/env bash
# Prepare a fresh checkout: a virtualenv with every Python tool the project uses (pinned in
# tests/requirements-dev.txt) and the link that lets Ansible find this checkout as the collection
# gke_inference.multicluster. Safe to re-run: it reinstalls only when the requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: Python 3.11 or newer is required ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

# System packages (bindep.txt lists the collection's own; shellcheck is for ansible-test sanity).
if ! command -v shellcheck >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "setup: installing shellcheck (Debian package)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null) \
    || echo "setup: shellcheck could not be installed; ansible-test sanity will skip its shellcheck test" >&2
fi

stamp="$VENV/.requirements.sha256"
want=$(cat requirements.txt tests/requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements into $VENV"
  "$PYTHON" -m venv "$VENV"
  # uv (from PyPI, pinned in tests/requirements-dev.txt) installs the same pinned set as pip does, in
  # about 30 s where pip took about 100 s on the 2-core CI machine; pip where no uv wheel installs.
  # Byte-compiled as pip does: where PYTHONDONTWRITEBYTECODE is set (as on CI), every Python process
  # would otherwise compile what it imports, each time (the suite took 1451 CPU-s that way, not 1217).
  if "$VENV/bin/python" -m pip install --quiet "$(grep -E '^uv==' tests/requirements-dev.txt)"; then
    "$VENV/bin/uv" pip install --python "$VENV/bin/python" --quiet --compile-bytecode -r tests/requirements-dev.txt
  else
    echo "setup: uv could not be installed; installing with pip (slower)" >&2
    "$VENV/bin/python" -m pip install --quiet -r tests/requirements-dev.txt
  fi
  echo "$want" > "$stamp"
fi

# ansible_collections/gke_inference/multicluster -> this checkout (see collections_path in ansible.cfg)
mkdir -p .collections/ansible_collections/gke_inference
ln -sfn ../../.. .collections/ansible_collections/gke_inference/multicluster
echo "setup: ready ($("$VENV/bin/ansible" --version | head -n 1))"
