#!/usr/bin/env bash
# odac experiment on Kubernetes, without a cluster: `--k8s DIR` writes an Indexed Job whose
# completions and parallelism are the spec's cells and parallel, the spec verbatim in its ConfigMap,
# one shared claim, and a report Job; the manifests pass deploy/k8s/validate.sh (Kubernetes 1.27
# schemas and cross-checks; skipped, and said so, where node or npm is missing) and a broken copy
# does not. Then what each pod would run, run here: `--cell auto` with JOB_COMPLETION_INDEX for
# every index, in reverse order, each running its cell only and a finished index run again not
# restarting it; `--report` refuses (exit 1, naming the cell) while a cell is unfinished and then
# writes the table of every cell. Bad arguments are refused with their name.
# Usage: e2e_experiment_k8s.sh BUILD_DIR
set -euo pipefail
# shellcheck source=tests/ports.sh
. "$(dirname "$0")/ports.sh"
build=$(cd "${1:?usage: e2e_experiment_k8s.sh BUILD_DIR}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
bin="$build/bin"
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-experiment-k8s-XXXXXX")
trap 'rm -rf "$work"' EXIT
port=$(pick_port)
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }
check() { # check DESCRIPTION COMMAND...: ok when the command succeeds
  local what=$1
  shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}
count() { find "$1" -maxdepth 1 -name "$2" 2>/dev/null | wc -l; }

cd "$work"
cat >grid.json <<EOF
{"name": "Grid_1", "envs": ["box2d"], "variants": ["odac", "her-sparse"], "seeds": [1, 2],
 "budget": 3000, "parallel": 3, "retries": 1, "base_port": $port, "run": {"num-envs": 4}}
EOF

# ---- the manifests ----
"$bin/odac" experiment grid.json --k8s k8s --image registry.example.com/odac:1.0 >k8s.log
job=k8s/experiment.yaml
check "four files written" test -f k8s/kustomization.yaml -a -f k8s/namespace.yaml -a -f "$job" -a -f k8s/report.yaml
check "an Indexed Job named from the spec (exp-grid-1)" grep -q "^  name: exp-grid-1$" "$job"
check "completionMode Indexed" grep -q "^  completionMode: Indexed$" "$job"
check "completions = the 4 cells" grep -q "^  completions: 4$" "$job"
check "parallelism = the spec's 3" grep -q "^  parallelism: 3$" "$job"
check "each pod runs its index's cell" grep -q '"--cell", "auto"' "$job"
check "the image asked for" grep -q "image: registry.example.com/odac:1.0" "$job"
check "a shared ReadWriteMany claim" grep -q 'accessModes: \["ReadWriteMany"\]' "$job"
check "the report Job runs --report" grep -q '"--report"' k8s/report.yaml
# The spec in the ConfigMap is the file, line for line.
sed -n '/^  spec.json: |$/,/^---$/p' "$job" | sed '1d;$d' | sed 's/^    //' >spec_back.json
check "the ConfigMap holds the spec verbatim" cmp -s spec_back.json grid.json
if command -v node >/dev/null && command -v npm >/dev/null; then
  if bash "$src/deploy/k8s/validate.sh" k8s >validate.log 2>&1; then
    ok "validate.sh passes the manifests"
  else
    bad "validate.sh: $(grep FAIL validate.log | head -3)"
  fi
  cp -r k8s broken
  sed -i 's/claimName: odac-experiments/claimName: no-such-claim/' broken/experiment.yaml
  if bash "$src/deploy/k8s/validate.sh" broken >broken.log 2>&1; then
    bad "validate.sh passed a Job whose claim does not exist"
  else
    check "validate.sh names the missing claim" grep -q "no PersistentVolumeClaim no-such-claim" broken.log
  fi
else
  echo "skipped: schema validation (node and npm are not installed)"
fi

# ---- the pods' commands, run here ----
runs="$work/shared/runs"
results="$work/shared/results"
state="$results/Grid_1/state"
export ODAC_EVAL_EVERY=5
pod() { # pod INDEX: what index INDEX's pod runs
  JOB_COMPLETION_INDEX=$1 "$bin/odac" experiment grid.json --cell auto --runs-dir "$runs" \
    --results-dir "$results" >"pod$1.log" 2>&1
}
mapfile -t ids < <("$bin/odac" experiment grid.json --dry-run | awk '{ print $1 }')
check "--dry-run lists 4 cells" test "${#ids[@]}" -eq 4
check "index 3 exits 0" pod 3
check "index 3 ran its cell only" test "$(count "$state" '*.starts')" -eq 1 -a -f "$state/${ids[3]}.done"
check "its run is in the shared runs dir" test -f "$runs/${ids[3]}/progress.csv"
status=0
"$bin/odac" experiment grid.json --report --runs-dir "$runs" --results-dir "$results" >report1.log 2>&1 || status=$?
check "--report with unfinished cells exits 1" test "$status" -eq 1
check "--report names an unfinished cell" grep -q "cell ${ids[0]} is not finished" report1.log
for k in 2 1 0; do check "index $k exits 0" pod $k; done
check "every cell finished once" test "$(count "$state" '*.done')" -eq 4
check "index 3 run again: exits 0" pod 3
check "index 3 run again: not restarted" test "$(wc -l <"$state/${ids[3]}.starts")" -eq 1
"$bin/odac" experiment grid.json --report --runs-dir "$runs" --results-dir "$results" >report2.log 2>&1 &&
  ok "--report of the finished grid exits 0" || bad "--report: $(tail -n 2 report2.log)"
csv="$results/Grid_1/table.csv"
check "table.csv has a row per variant" test "$(grep -c '^box2d,' "$csv" 2>/dev/null)" -eq 2
check "table.md written" test -s "$results/Grid_1/table.md"

# ---- refusals ----
refused() { # refused WORD ARGS...: exit 2 and a message containing WORD
  local word=$1 st=0
  shift
  "$bin/odac" experiment "$@" >refused.log 2>&1 || st=$?
  [ "$st" -eq 2 ] && grep -q -- "$word" refused.log
}
check "--cell 4 (out of range) refused" refused "--cell '4'" grid.json --cell 4
check "--cell x refused" refused "--cell 'x'" grid.json --cell x
check "--cell auto without JOB_COMPLETION_INDEX refused" env -u JOB_COMPLETION_INDEX \
  bash -c "$(declare -f refused); bin='$bin'; refused JOB_COMPLETION_INDEX grid.json --cell auto"
check "an image with a space refused" refused "--image" grid.json --k8s k2 --image "odac latest"
check "--cell with --report refused" refused "exclude each other" grid.json --cell 0 --report
check "--k8s on a bad spec refused" refused "envs" <(echo '{"name": "x", "envs": ["nope"], "variants": ["odac"], "seeds": [1], "budget": 10}') --k8s k3
check "nothing written for the refused --k8s" test ! -e k3 -a ! -e k2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
