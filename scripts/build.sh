#!/usr/bin/env bash
# Configures and builds shoal into build/ (or $SHOAL_BUILD_DIR).
# Usage: scripts/build.sh [extra cmake arguments...]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SHOAL_BUILD_DIR:-$root/build}
jobs=${SHOAL_JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ "$@" >/dev/null
cmake --build "$build" -j "$jobs"
