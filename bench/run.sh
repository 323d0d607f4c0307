#!/usr/bin/env bash
# The benchmark suite in one command: shoal-server beside Python's manager
# (a SyncManager over TCP with an authkey, and over a unix socket) and
# Redis, with the same workloads from 1, 8 and 64 client processes, parked
# waiters and wake-ups. Installs what it needs (Debian packages), builds the
# server and the client programs in Release mode into build-bench/ (apart
# from build/), and runs bench/suite.py, which prints the table with the
# ratios.
#
#   bench/run.sh            the full suite (about 15 minutes on 2 cores):
#                           writes docs/performance.md (between its bench
#                           markers) and docs/performance-clients.png
#   bench/run.sh --quick    a subset in under a minute, to check a change;
#                           prints the table and writes no docs
#
# Other arguments go to bench/suite.py (--help lists them), for example
# --workloads=dict_get,lock_acquire_release --clients=8 --seconds=1.
# The results, as JSON, go to build-bench/bench-results.json (quick:
# build-bench/bench-quick.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SHOAL_BENCH_BUILD_DIR:-$root/build-bench}

quick=0
for arg in "$@"; do
  if [[ $arg == --quick ]]; then quick=1; fi
done

SHOAL_BENCH_DEPS=1 "$root/scripts/install-deps.sh" >&2
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=Release -DSHOAL_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "${SHOAL_JOBS:-$(nproc)}" \
  --target shoal-server shoal_bench redis_bench >&2

if ((quick)); then
  exec python3 "$root/bench/suite.py" --build "$build" --json "$build/bench-quick.json" "$@"
fi
exec python3 "$root/bench/suite.py" --build "$build" --json "$build/bench-results.json" \
  --docs "$root/docs/performance.md" --plot "$root/docs/performance-clients.png" "$@"
