#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan, -DODAC_FUZZ=ON) into build-fuzz/ and runs
# each over its committed seed corpus (tests/fuzz/corpus/<harness>/) for FUZZ_SECONDS (default
# 20) seconds. Prints one line per harness (executions, crashes) and fails when any harness
# crashed, leaked, timed out or hit a sanitizer report; the input that did it is kept under
# $FUZZ_OUT (default build-fuzz/fuzz-out/<harness>/). New inputs found go there too, never into
# the committed corpus.
#   tests/fuzz/run.sh [HARNESS ...]     (default: every harness)
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
FUZZ_OUT=${FUZZ_OUT:-$BUILD_DIR/fuzz-out}
ODAC_FUZZ=1 ./deploy/setup.sh --packages-only # clang and libFuzzer, when missing
cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DODAC_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target fuzzers >/dev/null
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
  for d in tests/fuzz/corpus/*/; do harnesses+=("$(basename "$d")"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The harnesses write each input to a file: keep those in memory and remove them afterwards.
scratch_base=/dev/shm; [ -w "$scratch_base" ] || scratch_base=${TMPDIR:-/tmp}
export TMPDIR="$(mktemp -d "$scratch_base/odac-fuzz.XXXXXX")"
trap 'rm -rf "$TMPDIR"' EXIT
failed=0
total_runs=0
for h in "${harnesses[@]}"; do
  bin="$BUILD_DIR/fuzz/$h"
  [ -x "$bin" ] || { echo "fuzz: no harness $h" >&2; exit 2; }
  out="$FUZZ_OUT/$h"
  rm -rf "$out" && mkdir -p "$out/new"
  rc=0
  # -rss_limit_mb: a reader that allocates what a header claims would show here.
  "$bin" "$out/new" "tests/fuzz/corpus/$h" -max_total_time="$FUZZ_SECONDS" -max_len=8192 \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
    >"$out/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
  crashes=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o \
    -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  printf '{"fuzz":"%s","seconds":%s,"executions":%s,"crashes":%s,"exit":%s}\n' \
    "$h" "$FUZZ_SECONDS" "${runs:-0}" "$crashes" "$rc"
  total_runs=$((total_runs + ${runs:-0}))
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    echo "fuzz: $h failed (exit $rc); log $out/log, inputs:" >&2
    find "$out" -maxdepth 1 -type f ! -name log >&2
    grep -m 20 -E 'ERROR|runtime error|SUMMARY|==[0-9]+==' "$out/log" >&2 || true
  fi
done
echo "fuzz: ${#harnesses[@]} harnesses, $total_runs executions, $([ $failed -eq 0 ] && echo 'no crashes' || echo 'FAILED')"
exit $failed
