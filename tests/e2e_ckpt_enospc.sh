#!/usr/bin/env bash
# End-to-end: checkpoints on a full disk, with the real processes. A 4 MiB tmpfs is the run
# directory (needs root; otherwise the test says so and exits 77, which ctest reports as
# skipped). odac-learner and odac-replay each write a checkpoint on a first SIGTERM; restarted
# (--resume), then with every byte of the disk taken, a second SIGTERM makes each report the
# system's reason (No space left on device) and exit 1 with the previous checkpoint untouched and
# no temp file left; with space again, each resumes from that checkpoint and stops with exit 0.
# Usage: e2e_ckpt_enospc.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_ckpt_enospc.sh BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-enospc-XXXXXX")
mnt=$work/m
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  umount -l "$mnt" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m odac-e2e-enospc "$mnt" 2>"$work/mount.err"; then
  echo "SKIPPED: cannot mount a tmpfs at $mnt ($(cat "$work/mount.err")); needs root (CI runs as root)"
  exit 77
fi
fail() { echo "FAIL: $*"; tail -n 20 "$work"/*.log || true; echo "0 passed, 1 failed"; exit 1; }
# Polls a condition every 0.1 s until it holds or the deadline passes.
wait_for() {
  local what=$1 limit=$2; shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    kill -0 "$pid" 2>/dev/null || fail "the process exited while waiting for $what"
    [ $SECONDS -lt $end ] || fail "timed out after ${limit}s waiting for $what"
    sleep 0.1
  done
}
in_log() { grep -q -- "$2" "$work/$1.log"; }
fill_disk() { dd if=/dev/zero of="$mnt/filler" bs=64k 2>/dev/null || true; }
# stop NAME WANT_EXIT: SIGTERM, then the exit status must be WANT_EXIT.
stop() {
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  pid=""
  [ "$rc" -eq "$2" ] || fail "$1 exited $rc after SIGTERM, expected $2"
}
port=$(pick_port)
learner() { # learner LOG [--resume]
  local log=$1; shift
  "$build/bin/odac-learner" --env box2d --run-dir "$mnt" --run-id r "$@" \
    --shards "tcp://127.0.0.1:$port" --weights-bind "tcp://127.0.0.1:$((port + 1))" \
    --stats-bind "tcp://127.0.0.1:$((port + 2))" --log-every-s 0.2 >"$work/$log.log" 2>&1 &
  pid=$!
}
replay() { # replay LOG
  "$build/bin/odac-replay" --env box2d --checkpoint-dir "$mnt/replay" \
    --insert-bind "tcp://127.0.0.1:$((port + 3))" --sample-bind "tcp://127.0.0.1:$((port + 4))" \
    >"$work/$1.log" 2>&1 &
  pid=$!
}

# ---- learner ----
learner learner1
wait_for "the learner's first progress row" 60 test -s "$mnt/r/progress.csv"
stop learner 0
[ -s "$mnt/r/learner.ckpt" ] || fail "no learner checkpoint after the first SIGTERM"
cp "$mnt/r/learner.ckpt" "$work/learner.ckpt.before"
learner learner2 --resume
wait_for "the learner to resume" 60 in_log learner2 "resumed from"
fill_disk
stop learner 1
in_log learner2 "checkpoint failed" || fail "the learner did not report the failed checkpoint"
in_log learner2 "No space left on device" || fail "the learner did not name ENOSPC"
cmp -s "$mnt/r/learner.ckpt" "$work/learner.ckpt.before" || fail "the learner checkpoint changed"
[ ! -e "$mnt/r/learner.ckpt.tmp" ] || fail "a learner temp file was left on the full disk"
rm -f "$mnt/filler"
learner learner3 --resume
wait_for "the learner to resume from the kept checkpoint" 60 in_log learner3 "resumed from"
stop learner 0
echo "learner: full disk reported, exit 1, previous checkpoint kept and resumed from"

# ---- replay shard ----
replay replay1
wait_for "the shard to serve" 60 in_log replay1 "serving"
stop odac-replay 0
ckpt=$(ls "$mnt"/replay/replay-shard-*.ckpt)
cp "$ckpt" "$work/replay.ckpt.before"
replay replay2
wait_for "the shard to restore its checkpoint" 60 in_log replay2 "serving"
in_log replay2 "restored " || fail "the shard did not restore its first checkpoint"
fill_disk
stop odac-replay 1
in_log replay2 "No space left on device" || fail "the shard did not name ENOSPC"
cmp -s "$ckpt" "$work/replay.ckpt.before" || fail "the shard checkpoint changed"
[ ! -e "$ckpt.tmp" ] || fail "a shard temp file was left on the full disk"
rm -f "$mnt/filler"
replay replay3
wait_for "the shard to restart over the kept checkpoint" 60 in_log replay3 "serving"
in_log replay3 "restored " || fail "the kept shard checkpoint was not restored"
stop odac-replay 0
echo "replay: full disk reported, exit 1, previous checkpoint kept and loadable"
echo "2 passed, 0 failed"
