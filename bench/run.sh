#!/usr/bin/env bash
# Runs the same sequential workloads against shoal-server and against Python's
# multiprocessing manager (SyncManager over TCP with an authkey), in the same
# run on the same machine, and prints a table of the two with their ratios.
# Usage: bench/run.sh [OPS]   (default 20000 calls per workload)
# With --markdown the table is printed as Markdown, for docs/performance.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
markdown=0
if [[ "${1:-}" == "--markdown" ]]; then markdown=1; shift; fi
ops=${1:-20000}
build=${SHOAL_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh" >&2
"$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=Release >&2

work=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
"$build/server/shoal-server" --listen=127.0.0.1:0 --authkey-file="$work/key" >"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
  grep -q "listening on" "$work/server.log" 2>/dev/null && break
  sleep 0.1
done
address=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/server.log")

"$build/bench/shoal_bench" "$address" "$work/key" "$ops" >"$work/results.jsonl"
python3 "$root/bench/python_manager.py" --ops "$ops" >>"$work/results.jsonl"
python3 "$root/bench/report.py" --markdown="$markdown" <"$work/results.jsonl"
