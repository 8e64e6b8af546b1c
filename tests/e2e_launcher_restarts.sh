#!/usr/bin/env bash
# End-to-end: the launcher restarts a child that dies. A SIGKILLed actor is started again, a
# SIGKILLed learner comes back with --resume and continues from its checkpoint, and Ctrl-C (SIGINT)
# stops every process cleanly. Usage: e2e_launcher_restarts.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_launcher_restarts.sh BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-restart-XXXXXX")
launcher_pid=""
cleanup() {
  [ -n "$launcher_pid" ] && kill -KILL "$launcher_pid" 2>/dev/null || true
  pkill -KILL -f -- "$work" 2>/dev/null || true
  [ -n "${actor:-}" ] && kill -KILL "$actor" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 40 "$work/launcher.log" || true; echo "0 passed, 1 failed"; exit 1; }
# Polls a condition every 0.2 s until it holds or the deadline passes.
wait_for() {
  local what=$1 limit=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    kill -0 "$launcher_pid" 2>/dev/null || fail "the launcher exited while waiting for $what"
    [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}
count() { grep -c -- "$1" "$work/launcher.log" 2>/dev/null || true; }
# at_least N TEXT: the launcher's output holds TEXT at least N times (re-read on every call).
at_least() { [ "$(count "$2")" -ge "$1" ]; }
rows_over() { [ "$(wc -l <"$work/r/progress.csv")" -gt "$1" ]; }
pid_of() { grep -o "started $1 (pid [0-9]*)" "$work/launcher.log" | tail -n 1 | grep -o '[0-9]*)' | tr -d ')'; }

printf '{"checkpoint-every": 300, "log-every-s": 0.5}\n' >"$work/config.json"
port=$(pick_port)
"$build/bin/odac" run --env box2d --seed 3 --max-env-steps 100000000 --target-distance 0 \
  --learner-config "$work/config.json" --run-dir "$work" --run-id r --base-port "$port" \
  >"$work/launcher.log" 2>&1 &
launcher_pid=$!

wait_for "a learner checkpoint" 180 test -s "$work/r/learner.ckpt"
actor=$(pid_of actor-0)
kill -KILL "$actor"
wait_for "the actor's restart" 60 at_least 2 'started actor-0'
echo "actor restarted after SIGKILL"

learner=$(pid_of learner)
kill -KILL "$learner"
wait_for "the learner's restart" 60 at_least 2 'started learner'
wait_for "the learner to resume" 60 at_least 1 'resumed from'
rows=$(wc -l <"$work/r/progress.csv")
wait_for "progress after the resume" 120 rows_over $((rows + 2))
echo "learner resumed from its checkpoint and went on"

kill -INT "$launcher_pid"
status=0
wait "$launcher_pid" || status=$?
launcher_pid=""
[ "$status" -eq 130 ] || fail "launcher exited $status after SIGINT, expected 130"
actor=$(pid_of actor-0)
if pgrep -f -- "$work" >/dev/null || kill -0 "$actor" 2>/dev/null; then fail "processes left behind"; fi
grep -q "learner stopped (status 0" "$work/launcher.log" || fail "learner did not stop cleanly"
echo "1 passed, 0 failed"
