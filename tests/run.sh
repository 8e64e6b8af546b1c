#!/usr/bin/env bash
# Sets up (deploy/setup.sh), then runs the whole test suite with ctest; non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
BUILD_DIR=${BUILD_DIR:-build}
ctest --test-dir "$BUILD_DIR" --output-on-failure -j "${CTEST_JOBS:-2}"
