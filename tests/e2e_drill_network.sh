#!/usr/bin/env bash
# Drills with the real processes (launcher, learner, one replay shard, one actor) on a random
# base port:
#  1. forged stats: 300 ActorStats with a perfect evaluation (distance 0) sent to the learner's
#     stats port without keys (refused by CURVE), then 300 more with the run's actor key but not
#     its run token (ignored by the learner, which says so), do not end the run or count;
#  2. memory bombs: twenty 32 MiB frames of tiny unknown protobuf fields to each of the stats,
#     insert and sample ports leave the learner's and the shard's RSS within 64 MiB of where they
#     were and training goes on (the frame limits drop such peers before anything is buffered);
#  3. kill -9 of the only shard while the learner's request waits in it (the actor stopped, so
#     the rate limiter holds the request): the launcher restarts the shard, it restores its last
#     checkpoint (no transitions before it are lost), the learner (never restarted) logs the
#     lost request, asks again and its update count keeps rising within a bounded time.
# Progress is polled; nothing sleeps as synchronisation. Usage: e2e_drill_network.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_drill_network.sh BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-drill-XXXXXX")
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
  tail -n 20 "$work/r/logs/replay-0.log" || true
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
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }
at_least() { [ "$(count "$2" "$3")" -ge "$1" ]; }
pid_of() { grep -o "started $1 (pid [0-9]*)" "$log" | tail -n 1 | grep -o '[0-9]*)' | tr -d ')'; }
# updates of the last progress row (0 before the first)
updates() { tail -n 1 "$work/r/progress.csv" 2>/dev/null | awk -F, 'NR == 1 && $3 ~ /^[0-9]+$/ { print $3; exit } END { if (NR == 0) print 0 }'; }
updates_over() { [ "$(updates)" -gt "$1" ]; }
# transitions of the shard's last background checkpoint line (0 before the first)
ckpt_transitions() {
  grep -o 'checkpoint written in the background: [0-9]* transitions' "$work/r/logs/replay-0.log" 2>/dev/null |
    tail -n 1 | grep -o '[0-9]* transitions' | grep -o '[0-9]*' || echo 0
}
ckpt_lines() { count "$work/r/logs/replay-0.log" 'checkpoint written in the background'; }
ckpts_over() { [ "$(ckpt_lines)" -gt "$1" ]; }

printf '{"checkpoint-every": 100000, "log-every-s": 0.5}\n' >"$work/config.json"
port=$(pick_port)
# The shard writes a background checkpoint every 2 s (odac-replay --checkpoint-every-s), and its
# rate limiter holds the learner to one sampled transition per 4 env steps, so with the actor
# stopped the learner's request waits in the shard (what a restart loses); with one request in
# flight (learner --prefetch 1) losing it stalled the learner for good before requests had
# deadlines.
ODAC_CHECKPOINT_EVERY_S=2 ODAC_SAMPLES_PER_INSERT=0.25 ODAC_PREFETCH=1 "$build/bin/odac" run --env box2d --seed 5 --max-env-steps 100000000 \
  --target-distance 0.01 --num-envs 1 --learner-config "$work/config.json" --run-dir "$work" --run-id r \
  --base-port "$port" >"$log" 2>&1 &
launcher_pid=$!

wait_for "training" 180 updates_over 100
echo "training: $(updates) updates"

# ---- 1. forged stats ----
"$build/tests/odac-forge" stats "tcp://127.0.0.1:$((port + 1))" 300
ODAC_KEYS="$work/r/keys" "$build/tests/odac-forge" stats "tcp://127.0.0.1:$((port + 1))" 300
wait_for "the learner to ignore the forged stats" 30 at_least 1 "$log" "ignored actor stats (claiming actor 7) without this run's token"
u=$(updates)
wait_for "training after the forged stats" 60 updates_over $((u + 100))
grep -q "run finished" "$log" && fail "the forged evaluation ended the run"
grep -q "actor 7 joined" "$log" && fail "the forged actor was admitted"
# no progress row reports the forged distance 0 / success 1
awk -F, 'NR > 1 && $6 != "nan" && $6 + 0 == 0 { bad = 1 } END { exit bad }' "$work/r/progress.csv" ||
  fail "progress.csv records the forged evaluation"
echo "forged stats ignored; training went on ($(updates) updates)"

# ---- 2. memory bombs ----
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
learner=$(pid_of learner)
shard=$(pid_of replay-0)
l0=$(rss_kb "$learner")
s0=$(rss_kb "$shard")
"$build/tests/odac-forge" bomb "tcp://127.0.0.1:$((port + 1))" actor_stats 20 32
"$build/tests/odac-forge" bomb "tcp://127.0.0.1:$((port + 5))" episode 20 32
"$build/tests/odac-forge" bomb "tcp://127.0.0.1:$((port + 6))" sample_request 20 32
u=$(updates)
wait_for "training after the memory bombs" 60 updates_over $((u + 100))
l1=$(rss_kb "$learner")
s1=$(rss_kb "$shard")
[ "$l1" -lt $((l0 + 65536)) ] || fail "learner RSS grew from ${l0} kB to ${l1} kB"
[ "$s1" -lt $((s0 + 65536)) ] || fail "shard RSS grew from ${s0} kB to ${s1} kB"
[ "$(pid_of learner)" = "$learner" ] && [ "$(pid_of replay-0)" = "$shard" ] || fail "a process restarted"
echo "memory bombs: learner RSS ${l0} -> ${l1} kB, shard ${s0} -> ${s1} kB; training went on"

# ---- 3. kill -9 of the only shard ----
# With the actor stopped (SIGSTOP) nothing is inserted, so once the learner has sampled its share
# the rate limiter keeps its request waiting in the shard: the learner's updates stall, and the
# request the kill then loses is certain (with the actor running, a fast actor is what the
# limiter holds back, the request is often answered before the kill and none is lost).
actor=$(pid_of actor-0)
kill -STOP "$actor"
# two progress rows in a row with the same update count: the learner waits on the shard
stalled() { tail -n 2 "$work/r/progress.csv" | awk -F, 'NR == 1 { u = $3 } NR == 2 { exit !($3 == u) }'; }
wait_for "the learner to wait on the shard with the actor stopped" 60 stalled
c0=$(ckpt_lines)
wait_for "a shard checkpoint after the bombs" 60 ckpts_over "$c0"
saved=$(ckpt_transitions)
shard=$(pid_of replay-0)
learner=$(pid_of learner)
before=$(updates)
kill -KILL "$shard"
t_kill=$SECONDS
kill -CONT "$actor"
echo "killed replay-0 (pid $shard) at $before updates; its last checkpoint held $saved transitions"
wait_for "the shard's restart" 60 at_least 2 "$log" 'started replay-0'
wait_for "the shard to restore its checkpoint" 60 at_least 1 "$work/r/logs/replay-0.log" 'restored '
restored=$(grep -o 'restored .*: [0-9]* transitions' "$work/r/logs/replay-0.log" | tail -n 1 |
  grep -o '[0-9]* transitions' | grep -o '[0-9]*')
[ "$restored" -ge "$saved" ] || fail "the shard restored $restored transitions, its checkpoint had $saved"
# The requests the dead shard held are lost: the learner's deadline notices and it asks again.
wait_for "the learner to log the lost requests" 30 at_least 1 "$log" "no answer to .* sample request"
wait_for "the learner to log the shard's answers" 30 at_least 1 "$log" "answers again"
after=$(updates)
wait_for "updates to go on after the shard's restart" 60 updates_over $((after + 100))
resumed_s=$((SECONDS - t_kill))
[ "$(pid_of learner)" = "$learner" ] || fail "the learner was restarted"
[ "$(count "$log" 'started learner')" -eq 1 ] || fail "the learner was restarted"
# updates never go backwards in progress.csv
awk -F, 'NR > 1 { if ($3 + 0 < last) bad = 1; last = $3 + 0 } END { exit bad }' "$work/r/progress.csv" ||
  fail "updates went backwards in progress.csv"
echo "shard killed -9: restored $restored >= $saved transitions; training resumed within ${resumed_s}s ($(updates) updates)"

kill -INT "$launcher_pid"
status=0
wait "$launcher_pid" || status=$?
launcher_pid=""
[ "$status" -eq 130 ] || fail "launcher exited $status after SIGINT, expected 130"
echo "1 passed, 0 failed"
