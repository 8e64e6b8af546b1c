#!/usr/bin/env bash
# Installs every Debian package odac needs (build and runtime), then configures and builds into
# build/ (Release). Idempotent: run it as often as you like. `--packages-only` stops after the
# packages; ODAC_FUZZ=1 adds clang and libFuzzer (tests/fuzz/run.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=(build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libzmq3-dev
  libopenblas-dev libuv1-dev libcunit1-dev libcjson-dev libmujoco-dev libxxhash-dev libisal-dev
  libegl-dev libegl-mesa0 libgl1-mesa-dri libpng-dev ffmpeg gnuplot-nox)
# libegl-mesa0 and libgl1-mesa-dri: headless OpenGL for odac eval's pictures (Mesa's surfaceless
# EGL, software rendering); ffmpeg: its --video encoder and the video test's ffprobe;
# gnuplot-nox: the learning curves of odac experiment and odac plot.
# ODAC_FUZZ=1: also clang and its libFuzzer runtime, for tests/fuzz/run.sh.
[ "${ODAC_FUZZ:-0}" = 1 ] && packages+=(clang libclang-rt-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
[ "${1:-}" = --packages-only ] && exit 0
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"
