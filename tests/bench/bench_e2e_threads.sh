#!/usr/bin/env bash
# bench e2e_threads: the whole system's update rate at the paper's network size for sawyer-push
# (hidden 400,300, where the learner is the bottleneck), with 1 learner thread and with the
# launcher's default (--learner-threads 0: the cores the actor and shard leave). Real processes
# (launcher, one shard, one actor), SECONDS_PER_RUN (default 120) each, the settings alternated
# ROUNDS (default 2) times so that load from elsewhere hits both alike; the rates are means over
# progress rows after the first 30 s (random steps and warm-up), then over rounds. One JSON line
# per setting; the default's adds speedup_vs_1_thread.
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/../ports.sh"
cd "$(dirname "$0")/../.."
bin=${BUILD_DIR:-build}/bin
secs=${SECONDS_PER_RUN:-120}
rounds=${ROUNDS:-2}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-bench-threads-XXXXXX")
trap 'rm -rf "$work"' EXIT
machine="$(uname -n) / $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
declare -A ups eps thr
for r in $(seq 1 "$rounds"); do
  for t in 1 0; do
    id="r$r-t$t"
    port=$(pick_port)
    ODAC_HIDDEN=400,300 timeout -s INT "$secs" "$bin/odac" run --env sawyer-push --variant odac --seed "$r" \
      --learner-threads "$t" --max-env-steps 100000000 --target-distance 0 --run-dir "$work" \
      --run-id "$id" --base-port "$port" >"$work/$id.out" 2>&1 || true
    # The learner's start line names its thread count.
    thr[$t]=$(grep -o '[0-9]* thread(s)' "$work/$id.out" | head -1 | cut -d' ' -f1)
    read -r u e < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
      $c["wall_time_s"] > 30 && $c["updates_per_s"] > 0 { u += $c["updates_per_s"]; e += $c["env_steps_per_s"]; n++ }
      END { printf "%.2f %.2f\n", n ? u / n : 0, n ? e / n : 0 }' "$work/$id/progress.csv")
    ups[$t]=$(awk -v a="${ups[$t]:-0}" -v b="$u" -v r="$rounds" 'BEGIN { printf "%.2f", a + b / r }')
    eps[$t]=$(awk -v a="${eps[$t]:-0}" -v b="$e" -v r="$rounds" 'BEGIN { printf "%.2f", a + b / r }')
  done
done
for t in 1 0; do
  extra=""
  [ "$t" = 0 ] && extra=$(awk -v a="${ups[0]}" -v b="${ups[1]}" 'BEGIN { printf ",\"speedup_vs_1_thread\":%.3f", (b > 0 ? a / b : 0) }')
  printf '{"bench":"e2e_threads","env":"sawyer-push","hidden":"400,300","learner_threads":%s,"setting":"%s","updates_per_s":%s,"env_steps_per_s":%s%s,"seconds_per_run":%s,"rounds":%s,"machine":"%s"}\n' \
    "${thr[$t]:-0}" "$([ "$t" = 0 ] && echo default || echo 1)" "${ups[$t]}" "${eps[$t]}" "$extra" "$secs" "$rounds" "$machine"
done
