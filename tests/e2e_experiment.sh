#!/usr/bin/env bash
# odac experiment with the real processes: a grid of 2 variants x 2 seeds on box2d at a small
# budget. The runner is killed with SIGKILL after its first cell finished and started again: the
# grid finishes without rerunning the finished cell (each cell's start count, from the runner's
# state and from the learner's own TensorBoard files, one per learner start), the interrupted
# cell resumes. The table's numbers equal those recomputed here from the runs' progress.csv; the
# PNG decodes; odac plot on the same runs writes the same table; bad specs are refused before
# anything starts, naming the field.
# Usage: e2e_experiment.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=$(cd "${1:?usage: e2e_experiment.sh BUILD_DIR}" && pwd)
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-experiment-XXXXXX")
runner_pid=""
cleanup() {
  [ -n "$runner_pid" ] && kill "$runner_pid" 2>/dev/null && wait "$runner_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(pick_port)
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
# Polls a condition (a command, evaluated afresh each time) every 0.2 s for at most $1 seconds.
wait_for() {
  local t=$1
  shift
  for _ in $(seq 1 $((t * 5))); do "$@" && return 0; sleep 0.2; done
  return 1
}
count() { find "$1" -maxdepth 1 -name "$2" 2>/dev/null | wc -l; }
no_run_processes() { ! pgrep -f "$work/runs" >/dev/null; }

cd "$work"
cat >grid.json <<EOF
{"name": "g", "envs": ["box2d"], "variants": ["odac", "her-sparse"], "seeds": [1, 2],
 "budget": 12000, "parallel": 1, "retries": 1, "base_port": $port,
 "runs_dir": "$work/runs", "results_dir": "$work/results", "run": {"num-envs": 4}}
EOF
state="$work/results/g/state"
export ODAC_EVAL_EVERY=5 # evaluations every 5 episodes per actor, so 12,000 steps hold several

# 1. Start, kill the runner once one cell finished and the next one started.
"$bin/odac" experiment grid.json >runner1.log 2>&1 &
runner_pid=$!
cells_done() { [ "$(count "$state" '*.done')" -ge 1 ]; }
wait_for 120 cells_done || {
  echo "FAIL: no cell finished (log: $(tail -n 3 runner1.log))"
  exit 1
}
# (the second cell's learner has started: its event file exists)
two_learners() { [ "$(find "$work/runs" -name 'events.out.tfevents.*' | wc -l)" -ge 2 ]; }
wait_for 60 two_learners || {
  echo "FAIL: no second cell started (log: $(tail -n 3 runner1.log))"
  exit 1
}
kill -KILL "$runner_pid"
wait "$runner_pid" 2>/dev/null || true
runner_pid=""
# The launcher it started ends with it (SIGTERM from the kernel), and so do its children.
wait_for 60 no_run_processes && ok "killing the runner ended its runs" || bad "processes left: $(pgrep -af "$work/runs")"
done_before=$(count "$state" '*.done')
[ "$done_before" -ge 1 ] && [ "$done_before" -lt 4 ] && ok "killed mid-grid ($done_before of 4 done)" ||
  bad "done before the restart: $done_before"
finished_ids=$(cd "$state" && ls -- *.done | sed 's/\.done$//')

# 2. Start again: the grid finishes.
"$bin/odac" experiment grid.json >runner2.log 2>&1 && rc=0 || rc=$?
[ "$rc" = 0 ] && ok "the second start finished the grid" || bad "second start: exit $rc ($(tail -n 3 runner2.log))"
[ "$(count "$state" '*.done')" = 4 ] && ok "4 cells done" || bad "done: $(count "$state" '*.done')"
grep -q "4 cells (${done_before} finished before)" runner2.log && ok "the runner saw $done_before finished cells" ||
  bad "runner2 did not report the finished cells: $(grep 'cells (' runner2.log)"
for id in $finished_ids; do
  n=$(wc -l <"$state/$id.starts")
  tf=$(count "$work/runs/$id" 'events.out.tfevents.*')
  [ "$n" = 1 ] && [ "$tf" = 1 ] && ok "$id, finished before the kill: started once (learner starts: $tf)" ||
    bad "$id: $n starts, $tf learner starts"
done
resumed=0
for f in "$state"/*.starts; do
  id=$(basename "$f" .starts)
  n=$(wc -l <"$f")
  tf=$(count "$work/runs/$id" 'events.out.tfevents.*')
  [ "$n" = "$tf" ] || bad "$id: $n starts recorded, $tf learner starts"
  if [ "$n" = 2 ]; then
    resumed=$((resumed + 1))
    sed -n 2p "$f" | grep -q resume && ok "$id was resumed from its checkpoint" || bad "$id restarted without --resume"
  fi
  [ "$n" -le 2 ] || bad "$id started $n times"
done
[ "$resumed" = 1 ] && ok "exactly the interrupted cell started twice" || bad "cells started twice: $resumed"

# 3. The table against progress.csv: per run the mean of its last 3 distinct evaluations (told
# apart by eval_policy_version), per variant the mean and the sample std over seeds.
summary() { # run dir -> "final_distance success_rate env_steps"
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { steps = $c["env_steps"] }
    $c["eval_distance_mean"] != "nan" && $c["eval_policy_version"] != last {
      last = $c["eval_policy_version"]; n++; d[n] = $c["eval_distance_mean"]; s[n] = $c["eval_success_rate"] }
    END { k = n < 3 ? n : 3; for (i = n - k + 1; i <= n; i++) { sd += d[i]; ss += s[i] }
      printf "%.6f %.6f %d\n", sd / k, ss / k, steps }' "$1/progress.csv"
}
for v in odac her-sparse; do
  a=$(summary "$work/runs/g-box2d-$v-fixed-s1")
  b=$(summary "$work/runs/g-box2d-$v-fixed-s2")
  want=$(echo "$a $b" | awk '{ m = ($1 + $4) / 2; s = sqrt((($1 - m)^2 + ($4 - m)^2) / 1);
    printf "%.6f %.6f %.6f %.0f", m, s, ($2 + $5) / 2, ($3 + $6) / 2 }')
  got=$(awk -F, -v v="$v" '$3 == v { printf "%s %s %s %s", $5, $6, $7, $8 }' "$work/results/g/table.csv")
  same=$(echo "$want $got" | awk '{ for (i = 1; i <= 4; i++) if ($i - $(i + 4) > 1e-5 || $(i + 4) - $i > 1e-5) { print 0; exit } print 1 }')
  [ "$same" = 1 ] && ok "table.csv $v = recomputed ($got)" || bad "table.csv $v: got '$got', recomputed '$want'"
  # The recomputed mean went through table.csv's 6 decimals: rounded again to 4 digits it may land
  # on the other side of a half from the table's own rounding (0.509750 -> 0.5098, the table's
  # 0.5097499.. -> 0.5097), so either rounding of a value within 1e-6 of it is the table's.
  m=$(echo "$want" | awk '{ printf "%.4g", $1 - 1e-6 }')
  m2=$(echo "$want" | awk '{ printf "%.4g", $1 + 1e-6 }')
  grep -q -e "| box2d |.*$m (" -e "| box2d |.*$m2 (" "$work/results/g/table.md" &&
    ok "table.md shows $v's mean $m" || bad "table.md lacks $m: $(cat "$work/results/g/table.md")"
done
png="$work/results/g/box2d.png"
size=$(ffprobe -v error -show_entries stream=width,height -of csv=p=0 "$png" 2>&1 || true)
[ "$size" = "800,500" ] && ok "box2d.png decodes (800x500)" || bad "box2d.png: '$size'"

# 4. odac plot over the same runs: the same table.
"$bin/odac" plot --out "$work/plots" "$work"/runs/g-box2d-* >plot.log 2>&1 && rc=0 || rc=$?
# (its rows in the order the runs were given: compared as sets of rows)
[ "$rc" = 0 ] && cmp -s <(sort "$work/plots/table.csv") <(sort "$work/results/g/table.csv") &&
  ok "odac plot writes the same table.csv rows" || bad "odac plot: exit $rc ($(tail -n 2 plot.log))"
[ -s "$work/plots/box2d.png" ] && ok "odac plot drew box2d.png" || bad "odac plot drew no box2d.png"
"$bin/odac" plot "$work/no-such-run" >plot2.log 2>&1 && rc=0 || rc=$?
[ "$rc" = 1 ] && grep -q "no-such-run" plot2.log && ok "odac plot refuses a missing run" || bad "missing run: exit $rc"

# 5. Bad specs: refused (exit 2) with the field named, and nothing created.
refused() { # field-pattern spec-json
  echo "$2" >"$work/bad.json"
  local out rc
  out=$("$bin/odac" experiment "$work/bad.json" 2>&1) && rc=0 || rc=$?
  if [ "$rc" = 2 ] && grep -q -- "$1" <<<"$out" && [ ! -e "$work/results/b" ] && [ ! -e "$work/runs-b" ]; then
    ok "refused: $1"
  else
    bad "spec with $1: exit $rc, $out"
  fi
}
base='"name": "b", "runs_dir": "'"$work"'/runs-b", "results_dir": "'"$work"'/results", "seeds": [1], "budget": 100'
refused "envs\[0\]: env: unknown env 'pong'" "{$base, \"envs\": [\"pong\"], \"variants\": [\"odac\"]}"
refused "variants\[0\]: unknown variant 'odak'" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odak\"]}"
refused "budget: -5 is out of range" '{"name": "b", "envs": ["box2d"], "variants": ["odac"], "seeds": [1], "budget": -5}'
refused "seeds: 1 appears twice" '{"name": "b", "envs": ["box2d"], "variants": ["odac"], "seeds": [1, 1], "budget": 5}'
refused "variants: 'odac' appears twice" '{"name": "b", "envs": ["box2d"], "variants": ["odac", "odac"], "seeds": [1], "budget": 5}'
refused "colour: unknown key" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"], \"colour\": 1}"
refused "overrides\[0\].seeds: unknown key" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"], \"overrides\": [{\"seeds\": 1}]}"
refused "overrides\[0\]: matches no cell" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"], \"overrides\": [{\"env\": \"ant\"}]}"
refused "run.seed: unknown key" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"], \"run\": {\"seed\": 3}}"
refused "learner.run-id: set by the experiment runner" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"], \"learner\": {\"run-id\": \"x\"}}"
refused "the learner refuses the options" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"], \"learner\": {\"gamma\": 7}}"
refused "not valid JSON" "{$base, \"envs\": [\"box2d\"], \"variants\": [\"odac\"]} trailing"
refused "name: required" '{"envs": ["box2d"], "variants": ["odac"], "seeds": [1], "budget": 5}'
"$bin/odac" experiment no-such-preset >bad.log 2>&1 && rc=0 || rc=$?
[ "$rc" = 2 ] && grep -q "no-such-preset.json" bad.log && ok "an unknown preset is refused" || bad "unknown preset: exit $rc"
n=$("$bin/odac" experiment quick --dry-run | wc -l)
[ "$n" = 108 ] && ok "the quick preset has 108 cells (6 envs x 6 variants x 3 seeds)" || bad "quick: $n cells"

echo "e2e_experiment: $pass passed, $fail failed"
[ "$fail" = 0 ]
