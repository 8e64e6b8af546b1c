#!/usr/bin/env bash
# bench learn: trains from scratch with the real processes (build/bin/odac run: learner, one shard,
# one actor) for each row of the table below (env, variant, goal mode, target, budget) and each
# seed, and prints one JSON line per run:
#   {"bench":"learn","env":..,"variant":..,"seed":..,"goal_mode":..,"env_steps":..,
#    "final_distance":..,"success_rate":..,"env_steps_to_success":..,"minutes":..,"target":..,
#    "met":..,"q_mean_max":..,"q_mean_min":..,"q_max":..,"q_max_over_bound":..,"threads":..,
#    "machine":".."}
# (plus "error":".." when odac run exits non-zero; the other fields are then what progress.csv
# had, null where it had nothing).
#
# Usage: tests/bench/run learn [ENV ...]      (no ENV: every row; else only those envs' rows)
# Environment:
#   SEEDS="1 2 3"        seeds run for each row
#   VARIANTS="odac ..."  only rows with these variants        GOAL_MODES="fixed ..." likewise
#   MAX_ENV_STEPS=N      replaces every row's budget          EXTRA_ARGS="..." more flags to odac run
#   KEEP_RUNS=DIR        keep the run dirs in DIR (default: a temp dir removed at exit)
#   BUILD_DIR            build tree (default build/)
#
# From runs/<id>/progress.csv (columns found by name in the header row): an evaluation is a row
# whose eval_distance_mean is not nan; rows repeat the latest evaluation until the next one, so
# evaluations are told apart by eval_policy_version. final_distance and success_rate are the means
# over the last 3 evaluations of the run (fewer if it had fewer); env_steps_to_success is the
# env_steps of the first row at which the mean of the last 3 evaluations was below the target
# (null if never); met = final_distance < target. q_mean_max/min are over the rows after the
# first update (updates > 0; before that q_mean is the mean of nothing); q_max is the largest
# critic value of any row (column q_max) and q_max_over_bound the largest q_max - q_bound of a row
# (q_bound: the most the rewards allow; above 0, the critic overestimated), null without those
# columns. minutes is the wall time of odac run.
#
# ant: the target (1.0) is meant for the torso xy distance, which env_ant.c reports only as a
# diagnostic ("xy_distance") that neither the eval report nor progress.csv carries today. The
# script takes a progress.csv column named eval_xy_distance_mean (or, failing that, any eval_*
# column with "xy_distance" in its name) when there is one, and otherwise eval_distance_mean: ant's
# 15-D pose distance (torso xyz + quaternion + joint angles), which is never below the xy distance.
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/../ports.sh"
cd "$(dirname "$0")/../.."
bin=${BUILD_DIR:-build}/bin
seeds=${SEEDS:-"1 2 3"}
variants=${VARIANTS:-}
goal_modes=${GOAL_MODES:-}
extra=()
read -ra extra <<<"${EXTRA_ARGS:-}"

# env variant goal_mode target budget (targets and budgets from the issue).
table="
fetch-push  her-sparse fixed  0.05 300000
fetch-push  her-sparse random 0.05 500000
fetch-push  odac       fixed  0.05 500000
window      odac       fixed  0.05 300000
window      her-sparse fixed  0.05 300000
faucet      odac       fixed  0.05 300000
faucet      her-sparse fixed  0.05 300000
sawyer-push odac       fixed  0.05 500000
sawyer-push her-sparse fixed  0.05 500000
ant         odac       fixed  1.0  1000000
ant         her-sparse fixed  1.0  1000000
box2d       odac       fixed  0.6  200000
box2d       her-sparse fixed  0.6  200000
"

known_envs=$(awk 'NF { print $1 }' <<<"$table" | sort -u | tr '\n' ' ')
for e in "$@"; do
  case " $known_envs " in
    *" $e "*) ;;
    *) echo "bench_learn.sh: unknown env '$e' (known: $known_envs)" >&2; exit 2 ;;
  esac
done
[ -x "$bin/odac" ] || { echo "bench_learn.sh: $bin/odac is not built" >&2; exit 2; }

in_list() {  # in_list WORD "LIST": LIST empty, or WORD one of its words
  [ -z "$2" ] && return 0
  case " $2 " in *" $1 "*) return 0 ;; esac
  return 1
}

# --goal-mode on the launcher: the lead is adding it. Until `odac run --help` lists it, a random
# row sets ODAC_GOAL_MODE=random instead: the launcher starts its children with its own
# environment (uv_spawn without env), odac-actor reads every option from ODAC_<NAME>, and the
# learner and replay have no goal-mode option so they ignore it. Fixed rows pass nothing (fixed is
# the actor's default) and unset ODAC_GOAL_MODE so a value from the caller's shell cannot leak in.
launcher_has_goal_mode=0
if "$bin/odac" run --help 2>&1 | grep -q -- '--goal-mode'; then launcher_has_goal_mode=1; fi

machine="$(uname -n) / $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"

if [ -n "${KEEP_RUNS:-}" ]; then
  mkdir -p "$KEEP_RUNS"
  work=$(cd "$KEEP_RUNS" && pwd)
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/odac-bench-learn-XXXXXX")
  trap 'rm -rf "$work"' EXIT
fi

json_str() {  # a JSON string literal of $1 (other control characters dropped)
  local s
  s=$(printf '%s' "$1" | tr -d '\000-\010\013-\037' |
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g' |
    awk 'BEGIN { ORS = "" } { print (NR > 1 ? "\\n" : "") $0 }')
  printf '"%s"' "$s"
}

# summarize CSV TARGET ENV: prints "env_steps final_distance success_rate env_steps_to_success
# q_mean_max q_mean_min q_max q_max_over_bound", each a number or null.
summarize() {
  awk -F, -v target="$2" -v env="$3" '
    function isnum(v) { return v != "" && tolower(v) !~ /nan/ }
    function fmt(v) { return sprintf("%.6g", v) }
    NR == 1 {
      for (i = 1; i <= NF; i++) col[$i] = i
      dcol = col["eval_distance_mean"]
      if (env == "ant") {
        if ("eval_xy_distance_mean" in col) dcol = col["eval_xy_distance_mean"]
        else for (i = 1; i <= NF; i++) if ($i ~ /^eval_.*xy_distance/) { dcol = i; break }
      }
      scol = col["eval_success_rate"]; vcol = col["eval_policy_version"]
      ecol = col["env_steps"]; qcol = col["q_mean"]; ucol = col["updates"]
      xcol = col["q_max"]; bcol = col["q_bound"]
      next
    }
    {
      steps = $ecol; have_steps = 1
      if (qcol && isnum($qcol) && (!ucol || $ucol > 0)) {
        if (!nq || $qcol + 0 > qmax) qmax = $qcol + 0
        if (!nq || $qcol + 0 < qmin) qmin = $qcol + 0
        nq++
      }
      if (xcol && bcol && isnum($xcol) && isnum($bcol) && (!ucol || $ucol > 0)) {
        if (!nx || $xcol + 0 > xmax) xmax = $xcol + 0
        if (!nx || $xcol - $bcol > over) over = $xcol - $bcol
        nx++
      }
      if (!dcol || !isnum($dcol)) next
      key = vcol ? $vcol : $dcol "," $scol
      if (n && key == last_key) next
      last_key = key
      n++; d[n] = $dcol + 0; s[n] = (scol && isnum($scol)) ? $scol + 0 : 0
      if (n >= 3 && to_success == "" && (d[n] + d[n - 1] + d[n - 2]) / 3 < target + 0) to_success = $ecol
    }
    END {
      k = n < 3 ? n : 3; sd = 0; ss = 0
      for (i = n - k + 1; i <= n; i++) { sd += d[i]; ss += s[i] }
      printf "%s %s %s %s %s %s %s %s\n", have_steps ? steps : "null", k ? fmt(sd / k) : "null",
        k ? fmt(ss / k) : "null", to_success == "" ? "null" : to_success,
        nq ? fmt(qmax) : "null", nq ? fmt(qmin) : "null", nx ? fmt(xmax) : "null",
        nx ? fmt(over) : "null"
    }' "$1"
}

while read -r env variant goal target budget; do
  [ -n "$env" ] || continue
  if [ $# -gt 0 ] && ! in_list "$env" "$*"; then continue; fi
  in_list "$variant" "$variants" || continue
  in_list "$goal" "$goal_modes" || continue
  budget=${MAX_ENV_STEPS:-$budget}
  for seed in $seeds; do
    id="$env-$variant-$goal-s$seed-$(date +%Y%m%d-%H%M%S)"
    port=$(pick_port)
    goal_args=()
    goal_env=(env -u ODAC_GOAL_MODE)
    if [ "$launcher_has_goal_mode" = 1 ]; then
      goal_args=(--goal-mode "$goal")
    elif [ "$goal" = random ]; then
      goal_env=(env ODAC_GOAL_MODE=random)  # see launcher_has_goal_mode above
    fi
    t0=$(date +%s.%N)
    rc=0
    "${goal_env[@]}" nice "$bin/odac" run --env "$env" --variant "$variant" --seed "$seed" \
      --actors 1 --shards 1 "${goal_args[@]}" --target-distance 0 --max-env-steps "$budget" \
      --run-dir "$work" --run-id "$id" --base-port "$port" "${extra[@]}" \
      </dev/null >"$work/$id.out" 2>&1 || rc=$?
    t1=$(date +%s.%N)
    minutes=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 60 }')
    csv="$work/$id/progress.csv"
    if [ -s "$csv" ]; then
      read -r steps final succ to_succ qmax qmin qbig qover < <(summarize "$csv" "$target" "$env")
    else
      steps=null final=null succ=null to_succ=null qmax=null qmin=null qbig=null qover=null
    fi
    met=false
    if [ "$final" != null ] && awk -v f="$final" -v t="$target" 'BEGIN { exit !(f < t) }'; then
      met=true
    fi
    # The threads the learner's updates ran on (its start line): --threads applies only from
    # --pool-min-width units up, so variant.json's option is not the count used.
    threads=1
    t=$(sed -n 's/.* learner INFO run .*, \([0-9][0-9]*\) thread(s).*/\1/p' "$work/$id.out" | tail -n 1)
    [ -n "$t" ] && threads=$t
    error=
    if [ "$rc" -ne 0 ]; then
      last=$(grep -v '^[[:space:]]*$' "$work/$id.out" | tail -n 1 || true)
      error=$(printf ',"error":%s' "$(json_str "odac run exited $rc: $last")")
    fi
    printf '{"bench":"learn","env":"%s","variant":"%s","seed":%s,"goal_mode":"%s","env_steps":%s,"final_distance":%s,"success_rate":%s,"env_steps_to_success":%s,"minutes":%s,"target":%s,"met":%s,"q_mean_max":%s,"q_mean_min":%s,"q_max":%s,"q_max_over_bound":%s,"threads":%s,"machine":%s%s}\n' \
      "$env" "$variant" "$seed" "$goal" "$steps" "$final" "$succ" "$to_succ" "$minutes" \
      "$target" "$met" "$qmax" "$qmin" "$qbig" "$qover" "$threads" "$(json_str "$machine")" "$error"
  done
done <<<"$table"
