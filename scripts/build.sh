#!/usr/bin/env bash
# Configures and builds shoal into build/ (or $SHOAL_BUILD_DIR).
# Usage: scripts/build.sh [extra cmake arguments...]
# $SHOAL_BUILD_TARGET builds one target instead of all.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SHOAL_BUILD_DIR:-$root/build}
jobs=${SHOAL_JOBS:-$(nproc)}
# ccache, where installed, unless a launcher is chosen already. Paths are
# hashed relative to the checkout, so another clone of the same sources hits
# the same cache.
launcher=()
if [[ -z "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ]] && command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" "$@" >/dev/null
cmake --build "$build" -j "$jobs" --target "${SHOAL_BUILD_TARGET:-all}"
