#!/usr/bin/env bash
# The learner's TensorBoard event files against its progress.csv, with the real processes. An
# independent reader (tests/tools/tfevents_read.c: its own CRC32C, protobuf-c decoding) checks the
# framing and both CRCs of every record and that the scalar events, in order and after
# TensorBoard's purge rule for a SessionLog START, are progress.csv's rows: step = updates, one
# scalar per non-nan cell, equal to the cell read as a float.
#  1. a short box2d run: one event file, equal to progress.csv;
#  2. --resume of it, with the learner killed (SIGKILL) once and restarted by the launcher with
#     --resume: every start writes a new file, the first file stays byte-identical, each later
#     file starts with a SessionLog START at its checkpoint's updates + 1 (so the killed
#     learner's points after the checkpoint are dropped, as progress.csv's rows were), and all
#     files together equal progress.csv;
#  3. --no-tensorboard (from the learner config): no event file.
# Usage: e2e_tensorboard.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_tensorboard.sh BUILD_DIR}
bin="$build/bin"
reader="$build/tests/tfevents-read"
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-tb-XXXXXX")
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
echo '{"log-every-s": 0.5}' >"$work/learner.json"
run="$work/tb"
common=(--env box2d --variant odac --seed 1 --actors 1 --shards 1 --num-envs 8 --target-distance 0
  --run-dir "$work" --run-id tb --base-port "$port" --learner-config "$work/learner.json")
events() { ls -1 "$run" | grep '^events\.out\.tfevents\.' || true; }

# 1. A fresh run.
"$bin/odac" run "${common[@]}" --max-env-steps 6000 >"$work/run1.log" 2>&1 || {
  echo "FAIL: launcher exited with $?"
  tail -n 30 "$work/run1.log"
  exit 1
}
mapfile -t files < <(events)
[ "${#files[@]}" = 1 ] && ok "one event file: ${files[0]}" || bad "event files after one run: ${files[*]}"
first="$run/${files[0]}"
out=$("$reader" --csv "$run/progress.csv" "$first" 2>&1) && ok "run 1: $out" || bad "run 1: $out"
# Into a file first: with pipefail, head closing the pipe early would kill the reader (SIGPIPE)
# once its output outgrows one buffer, and fail the script for nothing.
"$reader" "$first" >"$work/first.txt"
head -n 2 "$work/first.txt" | cut -c1-160
sum1=$(sha256sum "$first" | cut -d' ' -f1)
rows1=$(wc -l <"$run/progress.csv")

# 2. Resume; kill the learner once while it trains on (the launcher restarts it with --resume).
"$bin/odac" run "${common[@]}" --max-env-steps 16000 --resume >"$work/run2.log" 2>&1 &
launcher_pid=$!
killed=""
for _ in $(seq 1 300); do # up to 60 s
  if [ "$(wc -l <"$run/progress.csv")" -ge $((rows1 + 4)) ]; then
    pid=$(grep -o 'started learner (pid [0-9]*' "$work/run2.log" | tail -n 1 | grep -o '[0-9]*$' || true)
    if [ -n "$pid" ]; then
      kill -9 "$pid" && killed="$pid, with $(($(wc -l <"$run/progress.csv") - rows1)) rows after run 1's"
      break
    fi
  fi
  sleep 0.2
done
wait "$launcher_pid" || { bad "resumed launcher exited with $?"; tail -n 30 "$work/run2.log"; }
launcher_pid=""
[ -n "$killed" ] && ok "killed the resumed learner (pid $killed)" ||
  bad "never killed the resumed learner"
grep -q "restarting learner" "$work/run2.log" && ok "the launcher restarted the learner" ||
  bad "no learner restart in the launcher's log"
# In creation order: each file is written until its learner stops, and the learners ran one after
# the other, so the order of last modification is the order of creation.
mapfile -t files < <(ls -1tr "$run" | grep '^events\.out\.tfevents\.')
[ "${#files[@]}" = 3 ] && ok "three event files (run 1, the killed learner, its restart)" ||
  bad "event files after the resume and the kill: ${files[*]}"
[ "$(sha256sum "$first" | cut -d' ' -f1)" = "$sum1" ] && ok "run 1's event file is byte-identical" ||
  bad "run 1's event file changed"
[ "$run/${files[0]}" = "$first" ] || bad "run 1's file is not the first in creation order"
for f in "${files[@]:1}"; do
  start=$("$reader" "$run/$f" | sed -n 2p)
  [[ "$start" =~ ^session_start\ [0-9]+$ ]] && ok "$f begins with a SessionLog START (${start#session_start })" ||
    bad "$f: second record is '$start', not a session start"
done
paths=()
for f in "${files[@]}"; do paths+=("$run/$f"); done
out=$("$reader" --csv "$run/progress.csv" "${paths[@]}" 2>&1) && ok "all runs: $out" || bad "all runs: $out"
# Without the purge rule the killed learner's rows would be extra: the check above is not vacuous.
if grep -q "later row(s) dropped" "$work/run2.log"; then
  ok "progress.csv was cut back on the restart: $(grep -o 'progress.csv cut back.*' "$work/run2.log" | head -n 1)"
else
  echo "note: no rows were cut on the restart (the killed learner logged none after its checkpoint)"
fi

# 3. --no-tensorboard (tensorboard: false in the learner's config).
echo '{"tensorboard": false, "log-every-s": 0.5}' >"$work/off.json"
"$bin/odac" run --env box2d --seed 1 --actors 1 --shards 1 --max-env-steps 1500 \
  --target-distance 0 --run-dir "$work" --run-id off --base-port $((port + 20)) \
  --learner-config "$work/off.json" >"$work/off.log" 2>&1 || bad "--no-tensorboard run exited with $?"
off_files=$(ls "$work/off")
[ -s "$work/off/progress.csv" ] && ! grep -q tfevents <<<"$off_files" &&
  ok "tensorboard false: progress.csv and no event file" || bad "tensorboard false: $off_files"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
