#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run): unit and integration tests (pytest, against
# the in-process emulator), the Molecule scenarios, ansible-lint (production profile), the docs
# (antsibull-docs lint and build) and
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
  local failed="" log
  log=$(mktemp)
  for scenario in extensions/molecule/*/molecule.yml; do
    name=$(basename "$(dirname "$scenario")")
    echo "== molecule test -s $name"
    (cd extensions && molecule test -s "$name") 2>&1 | tee "$log" || failed="$failed $name"
    # The scenarios set a canary Hugging Face token; it must never reach any output.
    if grep -q -e hf_moleculeCanaryToken -e hf_emulatorTokenNotASecret "$log"; then
      echo "molecule $name: the Hugging Face token appeared in the output" >&2
      failed="$failed $name(token-leak)"
    fi
  done
  rm -f "$log"
  [ -z "$failed" ] || { echo "molecule: failed scenarios:$failed" >&2; return 1; }
}

# ansible-lint (production profile), then the collection's docs: antsibull-docs lint and a full build.
run_lint() {
  ansible-lint || return 1
  (cd .collections/ansible_collections/gke_inference/multicluster && antsibull-docs lint-collection-docs --plugin-docs .) || return 1
  docs=$(mktemp -d)
  ANSIBLE_COLLECTIONS_PATH="$PWD/.collections" antsibull-docs collection --use-current --dest-dir "$docs" \
    gke_inference.multicluster >/dev/null || { rm -rf "$docs"; return 1; }
  echo "docs: $(find "$docs" -name '*.rst' | wc -l) pages built"
  # The built collection as Galaxy imports it (ansible-test runs separately, in sanity).
  ansible-galaxy collection build --force --output-path "$docs" . >/dev/null
  printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n' >"$docs/importer.cfg"
  (cd "$docs" && GALAXY_IMPORTER_CONFIG="$docs/importer.cfg" python -m galaxy_importer.main \
    gke_inference-multicluster-*.tar.gz >"$docs/importer.log" 2>&1) || { tail -20 "$docs/importer.log"; rm -rf "$docs"; return 1; }
  grep -q "Importer processing completed successfully" "$docs/importer.log" || { tail -20 "$docs/importer.log"; rm -rf "$docs"; return 1; }
  echo "galaxy-importer: the built collection imports"
  rm -rf "$docs"
}

case "$part" in
  unit) run_pytest tests/unit ;;
  integration) run_pytest tests/integration ;;
  molecule) run_molecule ;;
  lint) run_lint ;;
  sanity) scripts/sanity.sh ;;
  all)
    status=0 summary=""
    part_done() {  # part_done NAME RC: remember the outcome for the closing summary
      if [ "$2" -eq 0 ]; then summary="$summary $1=ok"; else summary="$summary $1=FAILED"; status=1; fi
    }
    echo "== lint";      rc=0; run_lint || rc=$?; part_done lint $rc
    echo "== sanity";    rc=0; scripts/sanity.sh || rc=$?; part_done sanity $rc
    echo "== molecule";  rc=0; run_molecule || rc=$?; part_done molecule $rc
    echo "== unit and integration tests"
    rc=0; run_pytest tests/unit tests/integration || rc=$?; part_done pytest $rc
    # last, so that the tail of a CI log says which part failed
    echo "== test suite:$summary"
    exit $status ;;
  *) echo "usage: scripts/test.sh [all|unit|integration|molecule|lint|sanity]" >&2; exit 2 ;;
esac
