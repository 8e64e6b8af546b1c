#!/usr/bin/env bash
# The learner's videos of its evaluation policy (--video-every), with the real processes: a short
# box2d run whose actor evaluates every 8 episodes and whose learner films every 3rd evaluation
# must leave videos/update_U.mp4 files that ffprobe decodes as one episode (320x240, one frame
# after the reset and one per step: 101), each with its log beside it and a line in the learner's
# log; a run without the option has no videos directory, and without ffmpeg on PATH the option is
# refused at start. Usage: e2e_learner_video.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=${1:?usage: e2e_learner_video.sh BUILD_DIR}
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-video-XXXXXX")
trap 'rm -rf "$work"' EXIT
port=$(pick_port)
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
command -v ffprobe >/dev/null || { echo "FAIL: ffprobe is missing (deploy/setup.sh installs ffmpeg)"; exit 1; }

echo '{"video-every": 3}' >"$work/video.json"
common=(--env box2d --variant odac --seed 1 --actors 1 --shards 1 --num-envs 8 --target-distance 0
  --run-dir "$work")
ODAC_EVAL_EVERY=8 "$bin/odac" run "${common[@]}" --max-env-steps 6000 --run-id filmed \
  --base-port "$port" --learner-config "$work/video.json" >"$work/filmed.log" 2>&1 ||
  { echo "FAIL: launcher exited with $?"; tail -n 30 "$work/filmed.log"; exit 1; }
mapfile -t videos < <(ls "$work/filmed/videos" | grep '^update_[0-9]*\.mp4$' || true)
if [ "${#videos[@]}" -ge 1 ]; then
  ok "${#videos[@]} video(s): ${videos[*]}"
else # what the run said about its evaluations and videos (a video follows every 3rd evaluation)
  bad "no video in $work/filmed/videos: $(ls "$work/filmed/videos" 2>&1)"
  grep -iE 'eval|video|checkpoint|weights' "$work/filmed.log" "$work"/filmed/logs/*.log | tail -n 30
fi
for v in "${videos[@]}"; do
  got=$(ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=width,height,nb_read_frames -of csv=p=0 "$work/filmed/videos/$v")
  [ "$got" = "320,240,101" ] && ok "$v decodes: width,height,frames $got" ||
    bad "$v: ffprobe says '$got', want 320,240,101"
  [ -s "$work/filmed/videos/${v%.mp4}.log" ] && ok "${v%.mp4}.log beside it" || bad "no log for $v"
  grep -q "video of the evaluation policy: .*/$v" "$work/filmed.log" && ok "the learner logged $v" ||
    bad "the learner's log does not name $v"
done

"$bin/odac" run "${common[@]}" --max-env-steps 1500 --run-id plain --base-port $((port + 20)) \
  >"$work/plain.log" 2>&1 || bad "run without --video-every exited with $?"
[ -s "$work/plain/progress.csv" ] && [ ! -e "$work/plain/videos" ] &&
  ok "without --video-every: no videos directory" || bad "without --video-every: $(ls "$work/plain")"

# Without ffmpeg the option is refused at start, naming what is missing.
set +e
out=$(PATH=/nonexistent "$bin/odac-learner" --env box2d --video-every 2 --run-dir "$work" \
  --run-id no-ffmpeg 2>&1)
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "needs the ffmpeg program" <<<"$out" && ok "no ffmpeg on PATH: refused (exit 2)" ||
  bad "no ffmpeg on PATH: exit $rc, $out"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
