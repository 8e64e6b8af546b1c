#!/usr/bin/env bash
# The learner refuses bad options at once, exit 2, with a message naming the problem:
# `--hidden 64,` (trailing comma), a config with text after its JSON object, "hidden": 64 (a
# number where a list or string belongs), an over-long --run-token, an unknown --model-family. It
# binds nothing and writes no run directory for them. Usage: e2e_learner_refusals.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: e2e_learner_refusals.sh BUILD_DIR}
work=$(mktemp -d "${TMPDIR:-/tmp}/odac-e2e-refuse-XXXXXX")
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
passed=0
failed=0
# expect_refusal NAME TEXT ARGS...: odac-learner ARGS exits 2 and its output holds TEXT.
expect_refusal() {
  local name=$1 text=$2
  shift 2
  local status=0
  timeout 30 "$build/bin/odac-learner" --run-dir "$work/runs" --shards tcp://127.0.0.1:1 \
    --weights-bind tcp://127.0.0.1:0 --stats-bind tcp://127.0.0.1:0 "$@" >"$work/out" 2>&1 || status=$?
  if [ "$status" -eq 2 ] && grep -qF -- "$text" "$work/out" && [ ! -e "$work/runs" ]; then
    echo "ok: $name"
    passed=$((passed + 1))
  else
    echo "FAIL: $name (exit $status, expected 2 and '$text'):"
    cat "$work/out"
    failed=$((failed + 1))
  fi
}
expect_refusal "--hidden 64," "trailing comma" --hidden 64,
expect_refusal "--model-hidden ,64" "expected 1.." --model-hidden ,64
expect_refusal "--hidden 64,,64" "expected 1.." --hidden 64,,64
printf '{"batch-size": 128} trailing\n' >"$work/trailing.json"
expect_refusal "config with trailing text" "unexpected text after the JSON object" --config "$work/trailing.json"
printf '{"hidden": 64}\n' >"$work/number.json"
expect_refusal "config hidden: 64" "'hidden' must be a string" --config "$work/number.json"
expect_refusal "over-long run token" "--run-token is longer" --run-token "$(printf 'a%.0s' $(seq 1 200))"
expect_refusal "--model-family cauchy" "--model-family 'cauchy': expected gaussian or laplace" --model-family cauchy
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
