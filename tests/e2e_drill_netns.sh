#!/usr/bin/env bash
# Across machines for real: two network namespaces joined by a veth pair (ip netns, iproute2), the
# learner and a shard on host A (10.77.<n>.1), actors on host B (10.77.<n>.2), every socket bound
# to A's address with CURVE keys (odac keygen). Checks, each wait bounded:
#  1. an actor with the run's key (and token) joins from B and the run trains (env steps and
#     updates rise);
#  2. an actor with no keys (--insecure, plain TCP) and one whose key is not in allowed_clients
#     get nothing in: the shard's ZAP handler logs the unlisted key, neither actor is ever logged
#     as joined, and neither receives weights (each reports policy 0 while the good actor trains);
#  3. the link goes down for 10 s (ip link set ... down, both ends) and up again: the processes
#     keep running and training goes on past where it was (env steps and updates rise again).
# Needs root and ip netns; otherwise reports itself skipped (exit 77).
# Usage: e2e_drill_netns.sh BUILD_DIR
set -euo pipefail
build=$(cd "${1:?usage: e2e_drill_netns.sh BUILD_DIR}" && pwd)
bin=$build/bin
if [ "$(id -u)" -ne 0 ] || ! command -v ip >/dev/null; then
  echo "skipped: needs root and iproute2's ip"
  exit 77
fi
n=$((RANDOM % 200 + 20))
ns_a=odac-a-$$ ns_b=odac-b-$$
veth_a=odva$$ veth_b=odvb$$
veth_a=${veth_a:0:15} veth_b=${veth_b:0:15}
addr_a=10.77.$n.1 addr_b=10.77.$n.2
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-netns-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
pass=0
fail() {
  echo "FAIL: $*"
  for f in learner replay good nokey unlisted; do
    [ -f "$work/$f.log" ] && { echo "--- $f"; tail -n 8 "$work/$f.log" | cut -c1-300; }
  done
  echo "$pass passed, 1 failed"
  exit 1
}
ok() { echo "ok: $*"; pass=$((pass + 1)); }
wait_for() { # wait_for WHAT SECONDS COMMAND...: polls every 0.2 s
  local what=$1 limit=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.2
  done
}

if ! ip netns add "$ns_a" 2>"$work/netns.err"; then
  echo "skipped: cannot create a network namespace ($(cat "$work/netns.err"))"
  exit 77
fi
ip netns add "$ns_b"
ip link add "$veth_a" type veth peer name "$veth_b"
ip link set "$veth_a" netns "$ns_a"
ip link set "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$addr_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$addr_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up

"$bin/odac" keygen "$work/keys" >/dev/null
"$bin/odac" keygen "$work/stranger" >/dev/null # a valid key pair the run does not list
token=drill-token-$$
common=(--env box2d --seed 3)
a() { exec ip netns exec "$ns_a" "$@"; } # run with &: the job is the process (kill reaches it)
b() { exec ip netns exec "$ns_b" "$@"; }

a "$bin/odac-replay" "${common[@]}" --keys "$work/keys" --insert-bind "tcp://$addr_a:5560" \
  --sample-bind "tcp://$addr_a:5561" --min-size 200 --stats-every-s 1 >"$work/replay.log" 2>&1 &
pids+=($!)
a "$bin/odac-learner" "${common[@]}" --keys "$work/keys" --run-token "$token" \
  --shards "tcp://$addr_a:5561" --weights-bind "tcp://$addr_a:5555" --stats-bind "tcp://$addr_a:5556" \
  --status-endpoint "tcp://127.0.0.1:5557" --run-dir "$work/runs" --run-id r --max-env-steps 100000000 \
  --target-distance 0 --log-every-s 0.5 --no-tensorboard >"$work/learner.log" 2>&1 &
pids+=($!)
actor_at() { # actor_at LOG ID ARGS...: an actor on host B
  local log=$1 id=$2
  shift 2
  b "$bin/odac-actor" "${common[@]}" --actor-id "$id" --shards "tcp://$addr_a:5560" \
    --weights "tcp://$addr_a:5555" --stats "tcp://$addr_a:5556" --num-envs 2 --eval-every 2 \
    --eval-episodes 1 --stats-interval-ms 500 "$@" >"$log" 2>&1 &
  pids+=($!)
}
ODAC_RUN_TOKEN=$token actor_at "$work/good.log" 11 --keys "$work/keys" --key-name actor

# The last progress row's column NAME (0 before the first row).
field() {
  awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
    c { v = $c } END { print (v == "" ? 0 : v) }' "$work/runs/r/progress.csv" 2>/dev/null || echo 0
}
above() { [ "$(field "$1")" -gt "$2" ]; }
has() { grep -q -- "$2" "$1"; }

# ---- 1. the keyed actor on the other host trains ----
wait_for "actor 11 to join across the veth" 60 has "$work/learner.log" "actor 11 joined"
wait_for "updates from host B's episodes" 120 above updates 500
ok "an actor on host B with the run's key joined; $(field updates) updates, $(field env_steps) env steps"

# ---- 2. no keys, and an unlisted key ----
actor_at "$work/nokey.log" 12 --insecure
# What an actor machine holds: the run's server.pub and a client key pair (here one not listed).
rm "$work/stranger/server.key"
cp "$work/keys/server.pub" "$work/stranger/server.pub"
ODAC_RUN_TOKEN=$token actor_at "$work/unlisted.log" 13 --keys "$work/stranger" --key-name actor
wait_for "the shard's ZAP handler to refuse the unlisted key" 60 has "$work/replay.log" "is not in allowed_clients"
u=$(field updates)
wait_for "training to go on meanwhile" 60 above updates $((u + 500))
# Both strangers have been stepping their envs all this while: neither joined, neither got weights.
for id in 12 13; do
  has "$work/learner.log" "actor $id joined" && fail "actor $id (no key or unlisted key) joined"
done
for f in nokey unlisted; do
  has "$work/$f.log" "policy [1-9]" && fail "the $f actor received weights: $(grep -m1 'policy [1-9]' "$work/$f.log")"
done
ok "no-key and unlisted-key actors refused (ZAP: $(grep -c 'is not in allowed_clients' "$work/replay.log") refusals logged by the shard); neither joined nor got weights"

# ---- 3. the link goes down and comes back ----
s=$(field env_steps)
u=$(field updates)
ip -n "$ns_a" link set "$veth_a" down
ip -n "$ns_b" link set "$veth_b" down
outage_end=$((SECONDS + 10))
while [ $SECONDS -lt $outage_end ]; do
  for p in "${pids[@]:0:3}"; do kill -0 "$p" 2>/dev/null || fail "a process exited during the outage"; done
  sleep 0.5
done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up
wait_for "env steps past $s after the link came back" 120 above env_steps "$((s + 2000))"
wait_for "updates past $u after the link came back" 60 above updates "$((u + 1000))"
for p in "${pids[@]:0:3}"; do kill -0 "$p" 2>/dev/null || fail "learner, shard or actor exited"; done
ok "link down 10 s and up: every process kept running; env steps $s -> $(field env_steps), updates $u -> $(field updates)"

echo "$pass passed, 0 failed"
