#!/usr/bin/env bash
# The main job: installs what odac needs, builds it, and runs a local multi-process ODAC training
# run on the embedded default (box2d, ODAC) until the evaluation final distance reaches the target
# or the env-step budget is spent. Extra arguments go to `odac run` (see build/bin/odac run --help).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/setup.sh
exec ./build/bin/odac run --env box2d --variant odac --target-distance 0.6 --max-env-steps 300000 "$@"
