#!/usr/bin/env bash
# End-to-end: the launcher's view of a run's life.
#  - a config or env the learner refuses is refused at once (exit 2, nothing started, no run
#    directory left behind);
#  - SIGTERM to the learner, a shard or an actor (each exits 0) is a child that stopped, not a
#    finished run: each is restarted (the learner with --resume) and training goes on;
#  - SIGKILL of the learner: it resumes and progress.csv is cut back to its checkpoint, so
#    updates never go backwards in it;
#  - an existing --run-id is refused without --resume (its files untouched) and continued as a
#    whole with it;
#  - the learner's threads: the cores by default (one actor, one shard), --learner-threads N
#    passed through (variant.json, the start line).
# Usage: e2e_launcher_lifecycle.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_launcher_lifecycle.sh BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-life-XXXXXX")
launcher_pid=""
cleanup() {
  # The children exit with the launcher (ODAC_EXIT_WITH_PARENT).
  [ -n "$launcher_pid" ] && kill -KILL "$launcher_pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
log=$work/launcher.log
fail() {
  echo "FAIL: $*"
  tail -n 40 "$log" || true
  echo "0 passed, 1 failed"
  exit 1
}
wait_for() {
  local what=$1 limit=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    kill -0 "$launcher_pid" 2>/dev/null || fail "the launcher exited while waiting for $what"
    [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}
count() { grep -c -- "$1" "$log" 2>/dev/null || true; }
at_least() { [ "$(count "$2")" -ge "$1" ]; }
pid_of() { grep -o "started $1 (pid [0-9]*)" "$log" | tail -n 1 | grep -o '[0-9]*)' | tr -d ')'; }
updates() { tail -n 1 "$work/r/progress.csv" 2>/dev/null | awk -F, '$3 ~ /^[0-9]+$/ { print $3; exit } END { if (NR == 0) print 0 }' | head -n 1; }
updates_over() { [ "$(updates)" -gt "$1" ]; }
monotonic() { awk -F, 'NR > 1 { if ($3 + 0 < last) bad = 1; last = $3 + 0 } END { exit bad }' "$work/r/progress.csv"; }
port=$(pick_port)
launch() { # launch LOG ARGS...: the launcher in the background on this test's ports
  local out=$1
  shift
  "$build/bin/odac" run --env box2d --seed 4 --max-env-steps 100000000 --target-distance 0.01 \
    --run-dir "$work" --base-port "$port" "$@" >"$out" 2>&1 &
  launcher_pid=$!
}

# ---- refused at once ----
printf '{"hidden": 64}\n' >"$work/bad.json"
status=0
timeout 20 "$build/bin/odac" run --env box2d --run-dir "$work" --run-id bad --base-port "$port" \
  --learner-config "$work/bad.json" >"$work/bad.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "a bad config: launcher exit $status, expected 2"
grep -q "'hidden' must be a string" "$work/bad.log" || fail "no reason for the bad config"
grep -q "started " "$work/bad.log" && fail "a process started for a bad config"
[ ! -e "$work/bad" ] || fail "a refused run left its directory"
status=0
timeout 20 "$build/bin/odac" run --env nope --run-dir "$work" --run-id bad --base-port "$port" \
  >"$work/bad.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "an unknown env: launcher exit $status, expected 2"
grep -q "unknown env 'nope'" "$work/bad.log" || fail "no reason for the unknown env"
echo "bad config and unknown env refused at once"

# ---- children that stop are restarted ----
printf '{"checkpoint-every": 4000, "log-every-s": 0.5}\n' >"$work/config.json"
launch "$log" --run-id r --learner-config "$work/config.json"
wait_for "training" 120 updates_over 100
# The learner's threads: by default the cores left after one actor and one shard, which on any
# machine is all of them (a quarter core and a tenth; capped at 64), used at any width on box2d
# (its pool-min-width is 0), where 64,64 runs as two lanes on two of them.
threads_of() { grep -o '"threads":[[:space:]]*[0-9]*' "$work/r/variant.json" | grep -o '[0-9]*$'; }
min_width_of() { grep -o '"pool-min-width":[[:space:]]*[0-9]*' "$work/r/variant.json" | grep -o '[0-9]*$'; }
cores=$(nproc)
[ "$cores" -gt 64 ] && cores=64
[ "$(threads_of)" = "$cores" ] || fail "learner threads $(threads_of) by default, expected $cores (the cores)"
[ "$(min_width_of)" = 0 ] || fail "pool-min-width $(min_width_of) by default on box2d, expected 0"
if [ "$cores" -ge 2 ]; then
  grep -q "hidden 64,64, batch 256, 1 shard(s), 2 thread(s) as two lanes" "$log" ||
    fail "the learner's start line does not say that 64,64 runs as two lanes on 2 threads"
else
  grep -q "hidden 64,64, batch 256, 1 shard(s), 1 thread(s)" "$log" ||
    fail "the learner's start line does not say that 64,64 runs on 1 thread"
fi
for child in learner replay-0 actor-0; do
  n=$(count "started $child ")
  kill -TERM "$(pid_of "$child")"
  wait_for "$child to be restarted after SIGTERM" 60 at_least $((n + 1)) "started $child "
done
grep -q "learner finished the run" "$log" && fail "SIGTERM to the learner was taken as a finished run"
wait_for "the learner to resume" 60 at_least 1 'resumed from'
u=$(updates)
wait_for "training after the restarts" 120 updates_over $((u + 100))
echo "SIGTERM to the learner, the shard and the actor: each restarted, training went on"

# The last "checkpoint written at update N" of the learner (0 before the first).
last_ckpt() { grep -o 'checkpoint written at update [0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$' || echo 0; }
rows_past_ckpt() { [ "$(updates)" -gt "$(last_ckpt)" ] && [ "$(last_ckpt)" -gt 0 ]; }
wait_for "a progress row after a learner checkpoint" 120 rows_past_ckpt
n=$(count "started learner ")
kill -KILL "$(pid_of learner)"
wait_for "the learner's restart after SIGKILL" 60 at_least $((n + 1)) "started learner "
wait_for "the resumed learner's progress" 60 at_least 2 'resumed from'
u=$(updates)
wait_for "progress after the resume" 60 updates_over $((u + 100))
monotonic || fail "updates went backwards in progress.csv after the resume"
grep -q "progress.csv cut back to the checkpoint" "$log" || fail "progress.csv was not cut back"
echo "learner SIGKILLed: resumed, progress.csv cut back to its checkpoint, updates monotonic"

kill -INT "$launcher_pid"
status=0
wait "$launcher_pid" || status=$?
launcher_pid=""
[ "$status" -eq 130 ] || fail "launcher exited $status after SIGINT, expected 130"

# ---- an existing run ----
sum=$(cat "$work/r/progress.csv" "$work/r/learner.ckpt" | md5sum)
status=0
timeout 20 "$build/bin/odac" run --env box2d --run-dir "$work" --run-id r --base-port "$port" \
  >"$work/again.log" 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "an existing run-id: launcher exit $status, expected 2"
grep -q "already exists; pass --resume" "$work/again.log" || fail "no reason for refusing the run-id"
[ "$(cat "$work/r/progress.csv" "$work/r/learner.ckpt" | md5sum)" = "$sum" ] || fail "the refused launch changed the run"
before=$(updates)
log=$work/resume.log
launch "$log" --run-id r --learner-config "$work/config.json" --resume --learner-threads 1
wait_for "the resumed run's learner" 60 at_least 1 'resumed from'
[ "$(threads_of)" = 1 ] || fail "--learner-threads 1: variant.json says $(threads_of)"
[ "$(min_width_of)" = 0 ] || fail "--learner-threads 1: pool-min-width $(min_width_of), expected 0"
wait_for "the resumed run's shard" 60 grep -q 'restored ' "$work/r/logs/replay-0.log"
wait_for "progress of the resumed run" 60 updates_over $((before + 100))
monotonic || fail "updates went backwards in progress.csv across the resume"
kill -INT "$launcher_pid"
status=0
wait "$launcher_pid" || status=$?
launcher_pid=""
[ "$status" -eq 130 ] || fail "resumed launcher exited $status after SIGINT, expected 130"
echo "an existing run: refused without --resume (untouched), continued with it"
echo "1 passed, 0 failed"
