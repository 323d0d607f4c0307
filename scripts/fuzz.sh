#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ (-DSHOAL_FUZZ=ON: clang, ASan and
# UBSan) in build-fuzz/ (or $SHOAL_FUZZ_BUILD_DIR), replays every committed
# corpus (fuzz/corpus/<target>/), then fuzzes each target for
# $SHOAL_FUZZ_SECONDS seconds (60 by default) starting from a scratch copy of
# its corpus. Prints, per target, the executions, executions per second,
# coverage (libFuzzer's cov: edges and ft: features) and the new corpus
# units, and writes them to build-fuzz/fuzz-summary.txt.
#
# Fails when a replayed input or a fuzzed one crashes; the crashing input is
# kept in build-fuzz/fuzz-work/<target>/artifacts/ (rerun it with
# build-fuzz/fuzz/<target>_fuzz FILE). SHOAL_FUZZ_TARGETS picks targets
# (default: all); SHOAL_FUZZ_SECONDS=0 only replays.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SHOAL_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${SHOAL_FUZZ_SECONDS:-60}
targets=${SHOAL_FUZZ_TARGETS:-frame_reader handshake dispatch value_codec session_frames}
jobs=${SHOAL_JOBS:-$(nproc)}

start=$SECONDS
# Only the fuzz programs and the libraries they need.
SHOAL_BUILD_DIR=$build SHOAL_BUILD_TARGET=shoal_fuzz SHOAL_JOBS=$jobs "$root/scripts/build.sh" \
  -DCMAKE_BUILD_TYPE=Debug -DSHOAL_FUZZ=ON -DSHOAL_BUILD_TESTS=OFF
echo "== fuzz: built in $((SECONDS - start)) s"

failed=()
# Leaks are not what these runs look for, and a parked call's completion may
# still hold its stream when a target exits.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
for target in $targets; do
  corpus=$root/fuzz/corpus/$target
  if ! "$build/fuzz/${target}_fuzz" -runs=0 "$corpus" >"$build/replay-$target.log" 2>&1; then
    echo "== fuzz: $target: replaying $corpus FAILED (see $build/replay-$target.log)"
    failed+=("$target (replay)")
  else
    echo "== fuzz: $target: replayed $(ls "$corpus" | wc -l) inputs"
  fi
done

summary=$build/fuzz-summary.txt
{
  echo "# shoal fuzzing: $seconds s per target, $(date -u +%Y-%m-%dT%H:%MZ)"
  printf '%-14s %12s %9s %7s %7s %9s %s\n' target executions exec/s cov ft new_units result
} >"$summary"
if ((seconds > 0)); then
  for target in $targets; do
    work=$build/fuzz-work/$target
    rm -rf "$work"
    mkdir -p "$work/corpus" "$work/artifacts"
    cp "$root/fuzz/corpus/$target/." "$work/corpus/" -r
    before=$(ls "$work/corpus" | wc -l)
    result=ok
    "$build/fuzz/${target}_fuzz" -max_total_time="$seconds" -print_final_stats=1 -timeout=30 \
      -rss_limit_mb=2048 -artifact_prefix="$work/artifacts/" "$work/corpus" \
      >"$work/log" 2>&1 || result=CRASH
    after=$(ls "$work/corpus" | wc -l)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$work/log" | tail -1 | cut -d' ' -f2)
    printf '%-14s %12s %9s %7s %7s %9s %s\n' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" \
      "${ft:-?}" "$((after - before))" "$result" >>"$summary"
    if [[ $result != ok ]]; then
      failed+=("$target")
      echo "== fuzz: $target: CRASH, input in $work/artifacts/; log $work/log"
      grep -m5 -E 'ERROR|SUMMARY|_fuzz: ' "$work/log" || true
    fi
  done
fi
cat "$summary"
echo "== fuzz: done in $((SECONDS - start)) s"
if ((${#failed[@]})); then
  echo "fuzz failed: ${failed[*]}" >&2
  exit 1
fi
