#!/usr/bin/env bash
# bench e2e: box2d ODAC from scratch over 3 seeds with the real processes (launcher, one shard,
# one actor); prints one JSON line with successes (final distance < 0.6, the authors' success radius), medians of env steps and
# seconds to success, and the learner's rates, policy lag and busy percentage (means over seeds).
# The run has CURVE on every socket (odac run's own keys); KEYS=0 runs it without (--no-keys), for
# CURVE's cost ("curve" in the line).
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/../ports.sh"
cd "$(dirname "$0")/../.."
bin=${BUILD_DIR:-build}/bin
seeds=${SEEDS:-"1 2 3"}
budget=${MAX_ENV_STEPS:-300000}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-bench-e2e-XXXXXX")
trap 'rm -rf "$work"' EXIT
keys_arg=()
curve=true
[ "${KEYS:-1}" = 0 ] && keys_arg=(--no-keys) && curve=false
results=()
for seed in $seeds; do
  port=$(pick_port)
  "$bin/odac" run --env box2d --variant odac --seed "$seed" --actors 1 --shards 1 \
    --target-distance 0.6 --max-env-steps "$budget" --run-dir "$work" --run-id "s$seed" \
    --base-port "$port" "${keys_arg[@]}" >"$work/s$seed.out" 2>&1 || true
  # progress.csv: 1 wall, 2 env_steps, 4 updates/s, 5 env steps/s, 6 eval mean, 23 lag, 24 busy.
  results+=("$(awk -F, 'NR > 1 {
      if (!done && $6 != "nan" && $6 < 0.6) { done = 1; steps = $2; secs = $1 }
      if ($4 > 0) { ups += $4; eps += $5; lag += $23; n++ } busy = $24 }
    END { printf "%d %s %s %.1f %.1f %.2f %.1f\n", done, done ? steps : "nan", done ? secs : "nan",
          n ? ups / n : 0, n ? eps / n : 0, n ? lag / n : 0, busy }' "$work/s$seed/progress.csv")")
done
printf '%s\n' "${results[@]}" | awk -v curve="$curve" -v machine="$(uname -n) / $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" '
  function median(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : "null" }
  { seeds++; if ($1) { succ++; st[succ] = $2; se[succ] = $3 } ups += $4; eps += $5; lag += $6; busy += $7 }
  END { printf "{\"bench\":\"e2e\",\"env\":\"box2d\",\"seeds\":%d,\"successes\":%d,\"env_steps_to_success_median\":%s,\"seconds_to_success_median\":%s,\"updates_per_s\":%.1f,\"env_steps_per_s\":%.1f,\"policy_lag_mean\":%.2f,\"learner_busy_pct\":%.1f,\"curve\":%s,\"threads\":1,\"machine\":\"%s\"}\n",
      seeds, succ, median(st, succ), median(se, succ), ups / seeds, eps / seeds, lag / seeds, busy / seeds, curve, machine }'
