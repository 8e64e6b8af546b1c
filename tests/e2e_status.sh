#!/usr/bin/env bash
# odac status against a running learner (the real processes started by the launcher, with the
# run's CURVE keys) and against nothing. The launcher prints the status endpoint at start; with
# the run's keys the learner answers with its counters, last evaluation, last progress row, shard
# and actor (policy lag) lists, in text and JSON; without the keys (CURVE refuses the handshake)
# and against a port where nothing listens, odac status fails with a message within its timeout;
# bad flags and endpoints are refused.
# Usage: e2e_status.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_status.sh BUILD_DIR}
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-status-XXXXXX")
launcher_pid=""
cleanup() {
  [ -n "$launcher_pid" ] && kill "$launcher_pid" 2>/dev/null && wait "$launcher_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
port=$(pick_port)
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
now_ms() { date +%s%3N; }
# A number or string of the one-line JSON (cJSON's unformatted output), first occurrence.
jget() { grep -o "\"$1\":[^,}]*" "$2" | head -n 1 | cut -d: -f2- | tr -d '"'; }

"$bin/odac" run --env box2d --seed 1 --actors 2 --shards 1 --num-envs 4 --target-distance 0 \
  --max-env-steps 400000 --run-dir "$work" --run-id st --base-port "$port" >"$work/launcher.log" 2>&1 &
launcher_pid=$!
ep=""
for _ in $(seq 1 100); do
  ep=$(grep -o 'status: odac status tcp://[^ ]*' "$work/launcher.log" | head -n 1 | cut -d' ' -f4 || true)
  [ -n "$ep" ] && break
  sleep 0.1
done
[ "$ep" = "tcp://127.0.0.1:$((port + 2))" ] && ok "the launcher printed the status endpoint $ep" ||
  bad "status endpoint printed: '$ep' (launcher log: $(tail -n 3 "$work/launcher.log"))"
keys="$work/st/keys"

# Ask until both actors have reported, an evaluation was logged and a progress row exists.
answered=""
for _ in $(seq 1 120); do # up to about 60 s
  if "$bin/odac" status "$ep" --keys "$keys" --json --timeout-ms 2000 >"$work/status.json" 2>"$work/status.err"; then
    if [ "$(grep -o '"seconds_since_stats":' "$work/status.json" | wc -l)" = 2 ] &&
      grep -q '"last_eval":{' "$work/status.json" && grep -q '"alpha":' "$work/status.json"; then
      answered=1
      break
    fi
  fi
  sleep 0.5
done
if [ -n "$answered" ]; then
  head -c 600 "$work/status.json"
  echo
  [ "$(jget env "$work/status.json")" = box2d ] && [ "$(jget run_id "$work/status.json")" = st ] &&
    ok "status names the run and env" || bad "status run/env: $(head -c 200 "$work/status.json")"
  u=$(jget updates "$work/status.json")
  [ "${u:-0}" -gt 0 ] && ok "updates $u, env steps $(jget env_steps "$work/status.json")" || bad "updates '$u'"
  grep -q "\"endpoint\":\"tcp://127.0.0.1:$((port + 6))\"" "$work/status.json" &&
    ok "the shard is listed with its (sample) endpoint" || bad "shard endpoint missing"
  for f in size_transitions inserted_transitions batches requests_timed_out final_distance_mean \
    success_rate policy_version critic_loss policy_loss entropy updates_per_s env_steps_per_s \
    seconds_since_stats episodes_dropped publish_version best_eval policy_lag alpha; do
    grep -q "\"$f\":" "$work/status.json" || missing="${missing:-} $f"
  done
  [ -z "${missing:-}" ] && ok "the shard's, actors' (with policy lag), evaluation and progress fields are present" ||
    bad "fields missing:$missing"
  "$bin/odac" status "$ep" --keys "$keys" >"$work/status.txt" 2>&1 &&
    grep -q "^actors (2):" "$work/status.txt" && grep -q "^last evaluation: policy" "$work/status.txt" &&
    grep -q "^shards (1):" "$work/status.txt" && ok "text output: $(grep -c . "$work/status.txt") lines" ||
    bad "text output: $(cat "$work/status.txt")"
else
  bad "no full status within 60 s: $(cat "$work/status.err") $(head -c 300 "$work/status.json")"
fi

# Without the run's keys: CURVE refuses the connection, so no answer within the timeout.
t0=$(now_ms)
set +e
msg=$("$bin/odac" status "$ep" --timeout-ms 700 2>&1)
rc=$?
set -e
dt=$(($(now_ms) - t0))
[ "$rc" = 1 ] && grep -q "no answer from $ep within 700 ms" <<<"$msg" && [ "$dt" -lt 2500 ] &&
  ok "without keys: exit 1 after $dt ms: $msg" || bad "without keys: exit $rc after $dt ms: $msg"

kill -INT "$launcher_pid"
wait "$launcher_pid" || true
launcher_pid=""

# Against nothing: a port where nothing listens (the run has stopped).
t0=$(now_ms)
set +e
msg=$("$bin/odac" status "$ep" --keys "$keys" --timeout-ms 500 2>&1)
rc=$?
set -e
dt=$(($(now_ms) - t0))
[ "$rc" = 1 ] && grep -q "no answer from $ep within 500 ms" <<<"$msg" && [ "$dt" -lt 2000 ] &&
  ok "against nothing: exit 1 after $dt ms (timeout 500 ms)" || bad "against nothing: exit $rc after $dt ms: $msg"

refused() { # refused WANT_RC PATTERN ARGS...
  local want=$1 pattern=$2
  shift 2
  set +e
  out=$("$bin/odac" status "$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  [ "$rc" = "$want" ] && grep -qiE -- "$pattern" <<<"$out" && ok "refused (exit $rc): odac status $* -> $(head -n 1 <<<"$out")" ||
    bad "odac status $*: exit $rc (want $want), '$out'"
}
refused 2 "expected one endpoint"
refused 2 "expected one endpoint" tcp://127.0.0.1:1 tcp://127.0.0.1:2
refused 2 "timeout-ms" tcp://127.0.0.1:1 --timeout-ms 0
refused 2 "unknown option --bogus" tcp://127.0.0.1:1 --bogus
refused 2 "nonsense" nonsense
refused 2 "keys" tcp://127.0.0.1:1 --keys "$work/no-such-keys"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
