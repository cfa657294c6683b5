#!/usr/bin/env bash
# The main job on the local emulator: start it, run site.yml against inventories/local (twice: the
# second run must change nothing), drill a failover of the primary region through the emulated
# gateway and print the drill's measured summary, stop the emulator.
# Extra arguments go to ansible-playbook (for example -v or --check).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
. scripts/env.sh
state_dir=${EMULATOR_STATE_DIR:-$PWD/.emulator}
port=${EMULATOR_PORT:-8089}

endpoint=$(PYTHONPATH=tests python -m emulator start --state-dir "$state_dir" --port "$port" \
  --project gke-inference-local --latency-scale "${EMULATOR_LATENCY_SCALE:-0.01}" \
  --dataplane-scale "${EMULATOR_DATAPLANE_SCALE:-0.1}")
trap 'PYTHONPATH=tests python -m emulator stop --state-dir "$state_dir" >/dev/null' EXIT
echo "run-local: emulator at $endpoint"
export GKE_INFERENCE_API_ENDPOINT="$endpoint" GKE_INFERENCE_CREDENTIALS_FILE="$state_dir/credentials.json"
ansible-playbook site.yml -i inventories/local "$@"

# Safe to re-run: the same playbook against the same emulator must change nothing.
echo "run-local: second run (must report changed=0)"
log=$(mktemp)
ansible-playbook site.yml -i inventories/local "$@" | tee "$log" | sed -n '/PLAY RECAP/,$p'
if grep -E 'changed=[1-9]' "$log" >/dev/null; then
  echo "run-local: the second run changed something: not idempotent" >&2
  exit 1
fi
echo "run-local: second run changed nothing"

echo "run-local: failover drill (reports in reports/)"
ansible-playbook playbooks/failover_drill.yml -i inventories/local "$@"
