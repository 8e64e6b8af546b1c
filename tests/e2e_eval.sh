#!/usr/bin/env bash
# odac eval against the learner's own evaluations. A short box2d run is trained with the real
# processes (launcher, learner, one shard, one actor of 8 envs); `odac eval` of its checkpoint with
# the actors' evaluation settings (5 deterministic episodes, 8 envs in lockstep, fixed goal, no
# action noise: deterministic) must give the final distance that the learner logged for an
# evaluation of exactly that checkpoint's policy. Then bad inputs must be refused, and the
# pictures (--frames PNGs, --video MP4) must hold the expected frames.
#
# Which evaluation is "of that checkpoint": the learner's final checkpoint holds the policy after
# its last update, while its last logged evaluation (progress.csv) is of a version the actor got
# up to a second or 100 updates earlier, so the two generally differ (runs of this test: the
# checkpoint 2.5280 and 1.1795, the last logged evaluations 2.8381 of version 163 and 1.9297 of
# version 175, the checkpoint's last published version 185). So the test makes an evaluation it
# can attribute: it resumes a copy of the run with a learner that gets no batches (its shard
# endpoint has no shard behind it), so it never updates and every version it publishes is the
# checkpoint's policy, and an actor (--eval-every 1) evaluates that policy. The assertion is that
# this logged evaluation (rows with the checkpoint's update count and a policy version published
# after the resume) equals odac eval's final distance at the precision progress.csv keeps
# (%.4f). The training run's last evaluation is printed beside it for the record, not asserted.
# Usage: e2e_eval.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_eval.sh BUILD_DIR}
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-eval-XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
port=$(pick_port)
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
# A top-level number or string of odac eval's one-line JSON (cJSON's unformatted output).
jget() { grep -o "\"$1\":[^,}]*" "$2" | head -n 1 | cut -d: -f2- | tr -d '"'; }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# 1. Train (about 30 s).
"$bin/odac" run --env box2d --variant odac --seed 1 --actors 1 --shards 1 --num-envs 8 \
  --target-distance 0 --max-env-steps 20000 --run-dir "$work" --run-id train \
  --base-port "$port" >"$work/launcher.log" 2>&1 || {
  echo "FAIL: launcher exited with $?"
  tail -n 30 "$work/launcher.log" "$work"/train/logs/*.log
  exit 1
}
run="$work/train"
[ -s "$run/learner.ckpt" ] || { echo "FAIL: the run left no checkpoint"; exit 1; }

# 2. odac eval with the actors' evaluation settings.
"$bin/odac" eval "$run" --episodes 5 --num-envs 8 --goal-mode fixed --json >"$work/eval.json"
"$bin/odac" eval "$run" --episodes 5 --num-envs 8 # the table, for the log
updates=$(jget updates "$work/eval.json")
version=$(jget publish_version "$work/eval.json")
mine=$(jget final_distance_mean "$work/eval.json" | awk '{ printf "%.4f", $1 }')
[ "$(jget env "$work/eval.json")" = box2d ] && [ "$(grep -o '"episode":' "$work/eval.json" | wc -l)" = 5 ] &&
  ok "odac eval --json: 5 episodes of box2d, checkpoint at update $updates (last published version $version), final distance $mine" ||
  bad "odac eval --json output: $(cat "$work/eval.json")"
# Columns: 3 updates, 6 eval_distance_mean, 9 eval_policy_version.
last=$(awk -F, 'NR > 1 && $6 != "nan" { l = $6 " (policy version " $9 ", row at update " $3 ")" } END { print l }' "$run/progress.csv")
echo "for the record: the training run's last logged evaluation: ${last:-none}; checkpoint's last published version $version"

# 3. An evaluation of exactly the checkpoint's policy, logged by a learner that cannot update.
cp -r "$run" "$work/frozen"
base=$(wc -l <"$run/progress.csv") # the rows after these are the frozen learner's
rm -f "$work/frozen/run_finished"
p=$((port + 40))
"$bin/odac-learner" --config "$work/frozen/variant.json" --run-dir "$work" --run-id frozen \
  --resume --keys= --shards "tcp://127.0.0.1:$p" --weights-bind "tcp://127.0.0.1:$((p + 1))" \
  --stats-bind "tcp://127.0.0.1:$((p + 2))" --status-endpoint "tcp://127.0.0.1:$((p + 4))" \
  --max-env-steps 100000000 --log-every-s 0.2 \
  >"$work/frozen-learner.log" 2>&1 &
pids+=($!)
"$bin/odac-actor" --env box2d --actor-id 0 --seed 1 --num-envs 8 --eval-every 1 \
  --backpressure-wait-ms 0 --shards "tcp://127.0.0.1:$((p + 3))" \
  --weights "tcp://127.0.0.1:$((p + 1))" --stats "tcp://127.0.0.1:$((p + 2))" \
  >"$work/frozen-actor.log" 2>&1 &
pids+=($!)
csv="$work/frozen/progress.csv"
row=""
for _ in $(seq 1 600); do # up to 120 s
  row=$(awk -F, -v b="$base" -v u="$updates" -v v="$version" 'NR > b && $3 == u && $9 > v && $6 != "nan" { print; exit }' "$csv")
  [ -n "$row" ] && break
  kill -0 "${pids[0]}" 2>/dev/null || break
  sleep 0.2
done
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
if [ -z "$row" ]; then
  bad "no evaluation of the frozen checkpoint was logged"
  tail -n 20 "$work/frozen-learner.log" "$work/frozen-actor.log"
else
  theirs=$(echo "$row" | cut -d, -f6)
  their_version=$(echo "$row" | cut -d, -f9)
  moved=$(awk -F, -v b="$base" -v u="$updates" 'NR > b && $3 != u' "$csv" | wc -l)
  [ "$moved" = 0 ] && ok "the frozen learner never updated (every row at update $updates)" ||
    bad "the frozen learner's update count moved ($moved rows off update $updates)"
  [ "$theirs" = "$mine" ] &&
    ok "learner's evaluation of the checkpoint's policy (version $their_version): $theirs = odac eval's $mine" ||
    bad "learner's evaluation of the checkpoint's policy (version $their_version) is $theirs, odac eval's $mine"
  grep -m1 -F "eval (policy $their_version," "$work/frozen-actor.log" || true
fi

# 4. Refusals: each exits non-zero with a message naming the problem.
refused() { # refused WANT_RC PATTERN ARGS...
  local want=$1 pattern=$2
  shift 2
  set +e
  out=$("$bin/odac" eval "$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  if [ "$rc" = "$want" ] && grep -qiE -- "$pattern" <<<"$out"; then
    ok "refused (exit $rc): odac eval $* -> $out"
  else
    bad "odac eval $*: exit $rc (want $want), message '$out' (want /$pattern/)"
  fi
}
mkdir "$work/empty"
refused 1 "no checkpoint in run" "$work/empty"
refused 1 "No such file" "$work/nowhere"
cp -r "$run" "$work/corrupt"
size=$(stat -c %s "$work/corrupt/learner.ckpt")
printf '\x5a' | dd of="$work/corrupt/learner.ckpt" bs=1 seek=$((size / 2)) conv=notrunc status=none
refused 1 "checksum mismatch" "$work/corrupt"
cp -r "$run" "$work/short"
truncate -s $((size / 2)) "$work/short/learner.ckpt"
refused 1 "truncated" "$work/short"
refused 1 "from env 'box2d'.*not 'ant'" "$run" --env ant
mkdir "$work/lone"
cp "$run/learner.ckpt" "$work/lone/"
refused 1 "pass --env" "$work/lone/learner.ckpt"
refused 1 "obs_dim" "$work/lone/learner.ckpt" --env ant
refused 2 "unknown env|unknown" "$run" --env nonsense
refused 2 "--episodes" "$run" --episodes 0
refused 2 "goal-mode" "$run" --goal-mode sideways
refused 2 "unknown option --bogus" "$run" --bogus
refused 2 "expected one run directory" "$run" "$run"
refused 2 "expected one run directory"
"$bin/odac" eval "$work/lone/learner.ckpt" --env box2d --episodes 2 --json >"$work/lone.json" &&
  [ "$(jget final_distance_mean "$work/lone.json" | awk '{ printf "%.4f", $1 }')" = "$mine" ] &&
  ok "a bare checkpoint with --env box2d evaluates as its run does" ||
  bad "a bare checkpoint with --env box2d: $(cat "$work/lone.json")"

# 5. Pictures: --frames writes one PNG per frame, --video an MP4 that ffprobe decodes with the
# same count: one frame after the reset and one per step (box2d: horizon 100), per round; the
# episodes of a round are tiles side by side. Pictures do not change the result.
H=100
"$bin/odac" eval "$run" --episodes 2 --num-envs 2 --frames "$work/frames" --video "$work/v.mp4" \
  --json >"$work/pic.json"
n_png=$(ls "$work/frames" | grep -c '^frame_[0-9]*\.png$' || true)
[ "$(jget frames "$work/pic.json")" = $((H + 1)) ] && [ "$n_png" = $((H + 1)) ] &&
  [ "$(head -c 8 "$work/frames/frame_000000.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
  ok "--frames: $n_png PNGs for one round of 2 episodes" || bad "--frames: $n_png PNGs, $(jget frames "$work/pic.json") reported"
probe() { ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames,width,height -of csv=p=0 "$1"; }
if command -v ffprobe >/dev/null; then
  got=$(probe "$work/v.mp4")
  [ "$got" = "640,240,$((H + 1))" ] && ok "--video decodes: width,height,frames $got" ||
    bad "--video: ffprobe says '$got', want 640,240,$((H + 1))"
  "$bin/odac" eval "$run" --episodes 2 --num-envs 1 --video "$work/v1.mp4" --json >"$work/pic1.json"
  got=$(probe "$work/v1.mp4")
  [ "$got" = "320,240,$((2 * (H + 1)))" ] && ok "--video of 2 rounds of 1 env: $got" ||
    bad "--video of 2 rounds: ffprobe says '$got'"
else
  bad "ffprobe is missing (deploy/setup.sh installs ffmpeg)"
fi
[ "$(jget final_distance_mean "$work/pic.json" | awk '{ printf "%.4f", $1 }')" = "$mine" ] &&
  ok "pictures leave the final distance as it was ($mine)" || bad "pictures changed the final distance"
refused 2 "must be even" "$run" --frames "$work/f2" --width 321
refused 1 "ffmpeg (failed|stopped reading)" "$run" --episodes 1 --video "$work/no-such-dir/v.mp4"
refused 1 "--frames" "$run" --episodes 1 --frames /proc/no-such-dir/x

# 6. --trace: one CSV row per step of every scored episode (3 episodes in rounds of 2 envs: 300
# rows), and each episode's last row holds the final distance the summary averages.
"$bin/odac" eval "$run" --episodes 3 --num-envs 2 --trace "$work/trace.csv" --json >"$work/trace.json"
header=$(head -n 1 "$work/trace.csv")
rows=$(($(wc -l <"$work/trace.csv") - 1))
last_mean=$(awk -F, 'NR > 1 && $2 == 100 { s += $NF; n++ } END { if (n == 3) printf "%.5f", s / n }' "$work/trace.csv")
summary=$(jget final_distance_mean "$work/trace.json")
# The rows carry 5 decimals: the two means agree within their rounding.
[ "$header" = "episode,step,action_0,action_1,achieved_0,achieved_1,distance" ] && [ "$rows" = 300 ] &&
  awk -v a="$last_mean" -v b="$summary" 'BEGIN { d = a - b; exit !(a != "" && d < 2e-5 && d > -2e-5) }' &&
  ok "--trace: $rows rows, last steps' mean distance $last_mean as the summary" ||
  bad "--trace: header '$header', $rows rows, last steps' mean '$last_mean', summary $(cat "$work/trace.json")"
refused 1 "--trace" "$run" --episodes 1 --trace /proc/no-such-dir/t.csv

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
