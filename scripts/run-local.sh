#!/usr/bin/env bash
# The main job on the local emulator: start it, run site.yml against inventories/local (twice: the
# second run must change nothing), drill a failover of the primary region through the emulated
# gateway and print the drill's measured summary, stop the emulator.
# Extra arguments go to ansible-playbook (for example -v or --check).
#
# EMULATOR_PORT: the port of the emulator (default: any free one). EMULATOR_STATE_DIR: where its
# state, credentials, log and the clusters' kubeconfigs go (default: a folder of this run under
# .emulator/, removed when the run passes). Two runs at once each get their own port and folder.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh
mkdir -p .emulator
keep=${EMULATOR_STATE_DIR:+yes}
state_dir=${EMULATOR_STATE_DIR:-$(mktemp -d "$PWD/.emulator/run.XXXXXX")}
export EMULATOR_STATE_DIR="$state_dir"
port=${EMULATOR_PORT:-0}

echo "run-local: starting the emulator (state in $state_dir)"
endpoint=$(PYTHONPATH=tests python -m emulator start --state-dir "$state_dir" --port "$port" \
  --project gke-inference-local --latency-scale "${EMULATOR_LATENCY_SCALE:-0.01}" \
  --dataplane-scale "${EMULATOR_DATAPLANE_SCALE:-0.1}")
passed=""
cleanup() {
  PYTHONPATH=tests python -m emulator stop --state-dir "$state_dir" >/dev/null || true
  if [ -n "$passed" ] && [ -z "$keep" ]; then
    rm -rf "$state_dir"
  else
    echo "run-local: the emulator's log and the kubeconfigs are kept in $state_dir"
  fi
}
trap cleanup EXIT
echo "run-local: emulator at $endpoint"
export GKE_INFERENCE_API_ENDPOINT="$endpoint" GKE_INFERENCE_CREDENTIALS_FILE="$state_dir/credentials.json"

echo "run-local: first run of site.yml (deploys everything)"
ansible-playbook site.yml -i inventories/local "$@"

# Safe to re-run: the same playbook against the same emulator must change nothing. Its plays and
# tasks are listed as they run; the whole output is in the log named below.
log="$state_dir/second-run.log"
echo "run-local: second run of site.yml (must report changed=0; full output in $log)"
ansible-playbook site.yml -i inventories/local "$@" | tee "$log" \
  | grep --line-buffered -E '^(PLAY|TASK) \[|^(changed|fatal|failed):' | sed -u 's/ \*\**$//'
sed -n '/PLAY RECAP/,$p' "$log"
if grep -E 'changed=[1-9]|failed=[1-9]' "$log" >/dev/null; then
  echo "run-local: the second run changed or failed something: not idempotent" >&2
  exit 1
fi
echo "run-local: second run changed nothing"

echo "run-local: failover drill (reports in reports/)"
ansible-playbook playbooks/failover_drill.yml -i inventories/local "$@"
passed=yes
