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
cd "$dest"
# ansible-test lists the collection's files with git when it is a repository
git init -q && git add -A >/dev/null
"$OLDPWD/$VENV/bin/ansible-test" sanity --venv --python "${SANITY_PYTHON:-3.11}" --color no "$@"
