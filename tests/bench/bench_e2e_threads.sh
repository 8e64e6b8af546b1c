#!/usr/bin/env bash
# bench e2e_threads: the whole system's update rate with 1 learner thread and with the launcher's
# default (--learner-threads 0: the cores the actor and shard leave), by default for sawyer-push
# at the paper's network size (hidden 400,300, where the learner is the bottleneck). Real
# processes (launcher, one shard, one actor), SECONDS_PER_RUN (default 120) each, the settings
# alternated ROUNDS (default 2) times so that load from elsewhere hits both alike; the rates are
# means over progress rows after the first 30 s (random steps and warm-up), then over rounds. One
# JSON line per setting; those past the first add speedup_vs_1_thread (or, where the first
# setting is not 1, speedup_vs_first_setting).
# BENCH_ENV and HIDDEN pick another env and size; SETTINGS (default "1 0") lists the
# --learner-threads values to compare (0: the launcher's default; N > 0: N threads asked for by
# name, which the launcher applies at any width).
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/../ports.sh"
cd "$(dirname "$0")/../.."
bin=${BUILD_DIR:-build}/bin
secs=${SECONDS_PER_RUN:-120}
rounds=${ROUNDS:-2}
env_name=${BENCH_ENV:-sawyer-push}
hidden=${HIDDEN:-400,300}
read -r -a settings <<<"${SETTINGS:-1 0}"
for t in "${settings[@]}"; do
  [[ "$t" =~ ^[0-9]+$ ]] || { echo "bench_e2e_threads: SETTINGS: '$t' is not a thread count" >&2; exit 2; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-bench-threads-XXXXXX")
trap 'rm -rf "$work"' EXIT
machine="$(uname -n) / $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
declare -A ups eps thr
for r in $(seq 1 "$rounds"); do
  for t in "${settings[@]}"; do
    id="r$r-t$t"
    port=$(pick_port)
    ODAC_HIDDEN=$hidden timeout -s INT "$secs" "$bin/odac" run --env "$env_name" --variant odac \
      --seed "$r" --learner-threads "$t" --max-env-steps 100000000 --target-distance 0 \
      --run-dir "$work" --run-id "$id" --base-port "$port" >"$work/$id.out" 2>&1 || true
    # The learner's start line names its thread count.
    thr[$t]=$(grep -o '[0-9]* thread(s)' "$work/$id.out" | head -1 | cut -d' ' -f1)
    read -r u e < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
      $c["wall_time_s"] > 30 && $c["updates_per_s"] > 0 { u += $c["updates_per_s"]; e += $c["env_steps_per_s"]; n++ }
      END { printf "%.2f %.2f\n", n ? u / n : 0, n ? e / n : 0 }' "$work/$id/progress.csv")
    ups[$t]=$(awk -v a="${ups[$t]:-0}" -v b="$u" -v r="$rounds" 'BEGIN { printf "%.2f", a + b / r }')
    eps[$t]=$(awk -v a="${eps[$t]:-0}" -v b="$e" -v r="$rounds" 'BEGIN { printf "%.2f", a + b / r }')
  done
done
first=${settings[0]}
key=$([ "$first" = 1 ] && echo speedup_vs_1_thread || echo speedup_vs_first_setting)
for t in "${settings[@]}"; do
  extra=""
  [ "$t" != "$first" ] && extra=$(awk -v a="${ups[$t]}" -v b="${ups[$first]}" -v k="$key" 'BEGIN { printf ",\"%s\":%.3f", k, (b > 0 ? a / b : 0) }')
  printf '{"bench":"e2e_threads","env":"%s","hidden":"%s","learner_threads":%s,"setting":"%s","updates_per_s":%s,"env_steps_per_s":%s%s,"seconds_per_run":%s,"rounds":%s,"machine":"%s"}\n' \
    "$env_name" "$hidden" "${thr[$t]:-0}" "$([ "$t" = 0 ] && echo default || echo "$t")" "${ups[$t]}" "${eps[$t]}" "$extra" "$secs" "$rounds" "$machine"
done
