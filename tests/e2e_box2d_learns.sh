#!/usr/bin/env bash
# End-to-end proof that odac learns: the real processes (learner, one replay shard, one actor,
# started by the launcher) train box2d with ODAC from a fixed seed, and the evaluation final
# distance must fall to at most 1.0 within 200,000 env steps (the start is about 8.1 away).
# It asserts the outcome, not the time. Usage: e2e_box2d_learns.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_box2d_learns.sh BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-XXXXXX")
trap 'rm -rf "$work"' EXIT
port=$(pick_port)
"$build/bin/odac" run --env box2d --variant odac --seed 1 --actors 1 --shards 1 \
  --target-distance 1.0 --max-env-steps 200000 --run-dir "$work" --run-id e2e \
  --base-port "$port" || { echo "FAIL: launcher exited with $?"; tail -n 50 "$work"/e2e/logs/*.log; exit 1; }
csv="$work/e2e/progress.csv"
[ -s "$csv" ] || { echo "FAIL: no progress.csv"; exit 1; }
tail -n 5 "$csv"
# Columns: 2 env_steps, 6 eval_distance_mean.
best=$(awk -F, 'NR > 1 && $6 != "nan" && $2 <= 200000 { if (b == "" || $6 < b) b = $6 } END { print b }' "$csv")
echo "best evaluation final distance within 200000 env steps: ${best:-none}"
if [ -n "$best" ] && awk -v b="$best" 'BEGIN { exit !(b <= 1.0) }'; then
  echo "1 passed, 0 failed"
else
  echo "FAIL: evaluation final distance never reached 1.0"
  echo "0 passed, 1 failed"
  exit 1
fi
