#!/usr/bin/env bash
# The whole test suite (what `make test` and CI run): ansible-lint (production profile), the docs
# (antsibull-docs lint and build) and galaxy-importer; ansible-test sanity; unit and integration tests
# (pytest, against the in-process emulator); the Molecule scenarios. It ends with one line per part
# and its duration. `scripts/test.sh check` is the fast tier for the edit loop (unit tests, the module
# and manifest tests, ansible-lint: no deployment); `scripts/test.sh
# unit|integration|molecule [SCENARIO...]|lint|sanity|minver` runs one part (minver: the module tests
# with the lowest versions requirements.txt allows).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh
part=${1:-all}

run_pytest() {
  python -m pytest -q -p no:cacheprovider --durations=12 "$@"
}

# The deployment test_site.py saved in this run of `all`: the scenarios of the Kubernetes-side roles
# load it instead of deploying their prerequisites (see extensions/molecule/shared/prepare.yml). Other
# parts never reuse one left by an earlier run: it would be a deployment made by older code.
snapshots="$PWD/tests/output/snapshots"

# run_molecule [SCENARIO...]: those scenarios (default: all), each with `molecule test -s`
run_molecule() {
  local failed="" log snapshot name scenario_start
  log=$(mktemp)
  local names=("$@")
  if [ ${#names[@]} -eq 0 ]; then
    for scenario in extensions/molecule/*/molecule.yml; do names+=("$(basename "$(dirname "$scenario")")"); done
  fi
  for name in "${names[@]}"; do
    scenario=extensions/molecule/$name/molecule.yml
    snapshot=""
    if [ -n "${use_snapshot:-}" ] && grep -q molecule_stack_from "$scenario" && [ -s "$snapshots/site.pickle" ]; then
      snapshot="$snapshots/site.pickle"
    fi
    echo "== molecule test -s $name${snapshot:+ (prerequisites from the saved deployment)}"
    scenario_start=$(date +%s)
    (cd extensions && GKE_INFERENCE_SNAPSHOT="$snapshot" molecule test -s "$name") 2>&1 | tee "$log" \
      || failed="$failed $name"
    echo "== molecule test -s $name: done in $(( $(date +%s) - scenario_start )) s"
    # The scenarios set a canary Hugging Face token; it must never reach any output, in plain, base64
    # (a Secret's data) or URL-safe base64 (the same characters here).
    if grep -q -e hf_moleculeCanaryToken -e hf_emulatorTokenNotASecret -e aGZfbW9sZWN1bGVDYW5hcnlUb2tlbg \
        -e aGZfZW11bGF0b3JUb2tlbk5vdEFTZWNyZXQ "$log"; then
      echo "molecule $name: the Hugging Face token appeared in the output" >&2
      failed="$failed $name(token-leak)"
    fi
  done
  rm -f "$log"
  [ -z "$failed" ] || { echo "molecule: failed scenarios:$failed" >&2; return 1; }
}

# The module and module_utils tests with the lowest version requirements.txt allows of each package
# (tests/requirements-min.txt), in a virtualenv of their own: every lower bound is a tested one.
# The collections galaxy.yml depends on, at their lowest version: the ansible release that ships kubernetes.core
# 5.0.0 (installed without its dependencies, which are the suite's ansible-core and the requirements above)
MIN_COLLECTIONS="ansible==11.0.0"

run_minver() {
  local venv=.venv-min stamp want
  stamp=$venv/.requirements.sha256
  want=$( (cat requirements.txt tests/requirements-min.txt tests/requirements-dev.txt; echo "$MIN_COLLECTIONS") \
    | sha256sum | cut -d' ' -f1)
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    rm -rf "$venv"
    python -m venv "$venv"
    # uv where setup installed it (see scripts/setup.sh), else pip
    local install=("$venv/bin/python" -m pip install --quiet)
    if command -v uv >/dev/null 2>&1; then install=(uv pip install --python "$venv/bin/python" --quiet); fi
    # the test tools at the suite's versions (tests/requirements-dev.txt), the collection's requirements at
    # their minimum
    # shellcheck disable=SC2046
    PIP_NO_COMPILE=1 "${install[@]}" -r requirements.txt -c tests/requirements-min.txt \
      $(grep -E '^(ansible-core|pytest|jsonschema|google-api-python-client|kubernetes-validate|cryptography)==' \
        tests/requirements-dev.txt) || return 1
    PIP_NO_COMPILE=1 "${install[@]}" --no-deps "$MIN_COLLECTIONS" || return 1
    echo "$want" >"$stamp"
  fi
  "$venv/bin/python" -m pip list 2>/dev/null | grep -E '^(google-|kubernetes |requests |protobuf )' | tr -s ' ' | paste -sd' '
  # test_turbo runs ansible-playbook from the suite's own virtualenv; the report pages are drawn by chromium
  # from JSON, with no library requirements.txt bounds
  "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/unit/plugins tests/unit/test_requirements.py \
    tests/integration/modules --deselect tests/integration/modules/test_turbo.py \
    --deselect tests/unit/plugins/filter/test_report_page.py
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
  # ansible-lint ran above on the same files: the importer does not run it again
  printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = False\n' >"$docs/importer.cfg"
  (cd "$docs" && GALAXY_IMPORTER_CONFIG="$docs/importer.cfg" python -m galaxy_importer.main \
    gke_inference-multicluster-*.tar.gz >"$docs/importer.log" 2>&1) || { tail -20 "$docs/importer.log"; rm -rf "$docs"; return 1; }
  grep -q "Importer processing completed successfully" "$docs/importer.log" || { tail -20 "$docs/importer.log"; rm -rf "$docs"; return 1; }
  echo "galaxy-importer: the built collection imports"
  rm -rf "$docs"
}

# The machine's busy and stolen clock ticks since boot (/proc/stat): the suite's closing line reports how busy the
# two cores were over its run, which also counts what the part lines cannot (module hosts, detached emulators).
# Sets machine_busy and machine_steal.
read_machine_ticks() {
  local user nice system irq softirq steal
  read -r _ user nice system _ _ irq softirq steal _ </proc/stat
  machine_busy=$(( user + nice + system + irq + softirq )) machine_steal=$steal
}

# The CPU time (clock ticks) of this shell's waited-for descendants: a part's CPU-seconds are the
# difference. Daemons a part leaves to init (a module host, a detached emulator) are not counted.
# Sets child_ticks (no command substitution: that would read a subshell's own).
read_child_ticks() {
  local stat
  read -r stat </proc/$BASHPID/stat
  read -r -a stat <<<"${stat##*) }"
  child_ticks=$(( stat[13] + stat[14] ))
}

timed() {  # timed NAME COMMAND...: run a part, remember its outcome, duration and CPU time for the closing lines
  local name=$1 start rc=0 ticks
  shift
  echo "== $name"
  start=$(date +%s)
  read_child_ticks
  ticks=$child_ticks
  "$@" || rc=$?
  read_child_ticks
  ticks=$(( child_ticks - ticks ))
  summary="${summary}== $(printf '%-9s' "$name") $([ "$rc" -eq 0 ] && echo ok || echo FAILED) in $(( $(date +%s) - start )) s, $(( ticks / $(getconf CLK_TCK) )) CPU-s"$'\n'
  [ "$rc" -eq 0 ] || status=1
}

status=0 summary=""
case "$part" in
  unit) run_pytest tests/unit ;;
  integration) rm -rf "$snapshots"; GKE_INFERENCE_SNAPSHOT_DIR="$snapshots" run_pytest tests/integration ;;
  molecule) run_molecule "${@:2}" ;;  # scripts/test.sh molecule [SCENARIO...]
  lint) run_lint ;;
  sanity) scripts/sanity.sh ;;
  minver) run_minver ;;
  check)
    started=$(date +%s)
    # ansible-lint on one core while the module tests mostly wait for the emulator's operations
    lint_log=$(mktemp)
    (lint_start=$(date +%s); rc=0; ansible-lint >"$lint_log" 2>&1 || rc=$?
     echo "$rc $(( $(date +%s) - lint_start ))" >"$lint_log.rc") &
    timed pytest run_pytest tests/unit tests/integration/modules tests/integration/roles
    wait
    echo "== ansible-lint"
    cat "$lint_log"
    read -r lint_rc lint_seconds <"$lint_log.rc"
    rm -f "$lint_log" "$lint_log.rc"
    summary="${summary}== $(printf '%-9s' ansible-lint) $([ "$lint_rc" -eq 0 ] && echo ok || echo FAILED) in ${lint_seconds} s"$'\n'
    [ "$lint_rc" -eq 0 ] || status=1
    printf '%s' "$summary"
    echo "== check: $([ $status -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - started )) s"
    exit $status ;;
  all)
    started=$(date +%s)
    read_machine_ticks
    busy_at_start=$machine_busy steal_at_start=$machine_steal
    rm -rf "$snapshots" tests/output/lane-*.log tests/output/lane-*.log.summary
    use_snapshot=yes
    mkdir -p tests/output
    # Four lanes on two cores. The cores are busy about 94 % of the suite (measured on 2026-12-03 from
    # /proc/stat, which the closing line prints): its time is its CPU time, and the lanes only keep the
    # cores fed while a lane waits (for emulated operations, health checks, the drills' time windows).
    # A: the shared platform (test_site.py deploys it once and saves it), then the Molecule scenarios of
    # the Kubernetes-side roles, which start from it, then the preflight's and AWX's playbook tests.
    # B: lint, the unit and module tests, then the Molecule scenarios of the Google-side roles. C: the
    # other playbook tests (their own deployments), then the operations playbooks on the saved platform
    # (test_site_operations.py waits for it). D: sanity, then the module tests at the minimum versions
    # (they mostly wait for the emulator's operations). The output of B, C and D is printed when A is done.
    google_side=() kube_side=()
    for scenario in extensions/molecule/*/molecule.yml; do
      name=$(basename "$(dirname "$scenario")")
      if grep -q molecule_stack_from "$scenario"; then kube_side+=("$name"); else google_side+=("$name"); fi
    done
    lanes=()
    lane() {  # lane NAME: run the lane's parts (from stdin, one per line) in the background, output to a log
      local log=tests/output/lane-$1.log lines
      mapfile -t lines
      (
        for line in "${lines[@]}"; do
          read -r -a part <<<"$line"
          timed "${part[@]}" </dev/null
        done
        printf '%s' "$summary" >"$log.summary"
        exit $status
      ) >"$log" 2>&1 &
      lanes+=("$1:$!")
    }
    playbook_tests=tests/integration/playbooks
    lane b <<PARTS
lint run_lint
pytest run_pytest tests/unit tests/integration --ignore $playbook_tests
molecule-b run_molecule ${google_side[*]}
PARTS
    lane d <<PARTS
sanity scripts/sanity.sh
minver run_minver
PARTS
    lane c <<PARTS
playbooks run_pytest $playbook_tests --ignore $playbook_tests/test_site.py --ignore $playbook_tests/test_site_operations.py --ignore $playbook_tests/test_awx.py --ignore $playbook_tests/test_operations.py
operations env GKE_INFERENCE_SNAPSHOT_DIR=$snapshots python -m pytest -q -p no:cacheprovider --durations=12 $playbook_tests/test_site_operations.py
PARTS
    # lane A in the foreground, in a subshell of its own: the lanes' CPU time counts where they end, not in a
    # part of A that happens to be running then
    (
      timed platform env GKE_INFERENCE_SNAPSHOT_DIR="$snapshots" python -m pytest -q -p no:cacheprovider --durations=12 \
        $playbook_tests/test_site.py
      timed molecule-a run_molecule "${kube_side[@]}"
      timed preflight-awx run_pytest $playbook_tests/test_operations.py $playbook_tests/test_awx.py
      printf '%s' "$summary" >tests/output/lane-a.log.summary
      exit $status
    ) || status=1
    for entry in "${lanes[@]}"; do
      wait "${entry#*:}" || status=1
    done
    for entry in "${lanes[@]}"; do
      echo "== lane ${entry%%:*} (run beside the above)"
      cat "tests/output/lane-${entry%%:*}.log"
    done
    # last, so that the tail of a CI log says which part failed and how long each took
    for entry in a "${lanes[@]}"; do
      cat "tests/output/lane-${entry%%:*}.log.summary"
    done
    read_child_ticks
    read_machine_ticks
    elapsed=$(( $(date +%s) - started )) hz=$(getconf CLK_TCK)
    busy=$(( (machine_busy - busy_at_start) / hz ))
    echo "== test suite: $([ $status -eq 0 ] && echo passed || echo FAILED) in $elapsed s, $(( child_ticks / hz )) CPU-s;" \
      "the machine was busy $busy CPU-s ($(( 100 * busy / ($(nproc) * (elapsed > 0 ? elapsed : 1)) )) % of $(nproc) cores)," \
      "$(( (machine_steal - steal_at_start) / hz )) s stolen by the hypervisor"
    exit $status ;;
  *) echo "usage: scripts/test.sh [all|check|unit|integration|molecule|lint|sanity|minver]" >&2; exit 2 ;;
esac
