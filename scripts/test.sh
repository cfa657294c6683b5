#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run): unit and integration tests (pytest, against
# the in-process emulator), the Molecule scenarios, ansible-lint (production profile) and
# ansible-test sanity. `scripts/test.sh unit|integration|molecule|lint|sanity` runs one part.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh
part=${1:-all}

run_pytest() {
  python -m pytest -q -p no:cacheprovider "$@"
}

run_molecule() {
  local failed=0 log
  log=$(mktemp)
  for scenario in extensions/molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$scenario")")
    echo "== molecule test -s $name"
    (cd extensions && molecule test -s "$name") 2>&1 | tee "$log" || failed=1
    # The scenarios set a canary Hugging Face token; it must never reach any output.
    if grep -q -e hf_moleculeCanaryToken -e hf_emulatorTokenNotASecret "$log"; then
      echo "molecule $name: the Hugging Face token appeared in the output" >&2
      failed=1
    fi
  done
  rm -f "$log"
  return $failed
}

case "$part" in
  unit) run_pytest tests/unit ;;
  integration) run_pytest tests/integration ;;
  molecule) run_molecule ;;
  lint) ansible-lint ;;
  sanity) scripts/sanity.sh ;;
  all)
    status=0
    echo "== lint";      ansible-lint || status=1
    echo "== sanity";    scripts/sanity.sh || status=1
    echo "== molecule";  run_molecule || status=1
    # last, so that CI reads pytest's closing line
    echo "== unit and integration tests"; run_pytest tests/unit tests/integration || status=1
    exit $status ;;
  *) echo "usage: scripts/test.sh [all|unit|integration|molecule|lint|sanity]" >&2; exit 2 ;;
esac
