#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test with ctest.
#
# By default: a RelWithDebInfo build in build/ (or $SHOAL_BUILD_DIR).
# SHOAL_SANITIZE=address or thread builds and tests that sanitizer build
# instead, in build-address/ or build-thread/ (named after $SHOAL_BUILD_DIR
# when it is set: $SHOAL_BUILD_DIR-address, ...).
# SHOAL_SANITIZERS="address thread" runs the default build and then each
# sanitizer build listed, in turn, each in its own folder; every build runs
# even when an earlier one failed, and the script fails if any did.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
base=${SHOAL_BUILD_DIR:-$root/build}

if [[ -n "${SHOAL_SANITIZE:-}" && -n "${SHOAL_SANITIZERS:-}" ]]; then
  echo "set SHOAL_SANITIZE or SHOAL_SANITIZERS, not both" >&2
  exit 2
fi
for sanitizer in ${SHOAL_SANITIZE:-} ${SHOAL_SANITIZERS:-}; do
  if [[ $sanitizer != address && $sanitizer != thread ]]; then
    echo "unknown sanitizer '$sanitizer': use address or thread" >&2
    exit 2
  fi
done

"$root/scripts/install-deps.sh"
export PATH=$PATH:$HOME/.local/bin:/usr/local/go/bin

# The names of the tests that failed in a build folder's last ctest run, on
# one line.
failed_tests_in() {
  cut -d: -f2 "$1/Testing/Temporary/LastTestsFailed.log" | tr '\n' ' '
}

# Builds one configuration into a folder and runs its tests; prints how long
# that took. Usage: build_and_test NAME FOLDER CMAKE_ARGS...
build_and_test() {
  local name=$1 dir=$2
  shift 2
  local start=$SECONDS status=0
  echo "== $name: building in $dir"
  # Tests on, whatever the folder's cache says (scripts/serve.sh builds the
  # same folder without them); a run that finds no test fails.
  SHOAL_BUILD_DIR=$dir "$root/scripts/build.sh" -DSHOAL_BUILD_TESTS=ON "$@" || status=$?
  if ((status == 0)); then
    (cd "$dir" && ctest --no-tests=error --output-on-failure -j "${SHOAL_TEST_JOBS:-2}" --timeout 300) || status=$?
    if ((status != 0)) && [[ -s $dir/Testing/Temporary/LastTestsFailed.log ]]; then
      # A failed test runs once more, alone: a child forked by a test may
      # hang now and then, in the sanitizers' runtimes of Debian's clang 14
      # (not fork-safe), and, in every build, in Abseil's Mutex of a child
      # forked while the parent's threads use theirs (docs/reliability.md).
      # A test that passes the second time is named as flaky here and in the
      # summary; one that fails again fails the build.
      local failed_tests
      failed_tests=$(failed_tests_in "$dir")
      echo "== $name: running again, alone: $failed_tests"
      status=0
      (cd "$dir" && ctest --rerun-failed --output-on-failure -j 1 --timeout 300) || status=$?
      if ((status == 0)); then
        flaky+=("$name: $failed_tests")
      fi
    fi
  fi
  if ((status == 0)); then
    echo "== $name: passed in $((SECONDS - start)) s"
  else
    echo "== $name: FAILED after $((SECONDS - start)) s"
  fi
  return "$status"
}

builds=()
if [[ -z "${SHOAL_SANITIZE:-}" ]]; then
  builds+=(default)
fi
for sanitizer in ${SHOAL_SANITIZE:-} ${SHOAL_SANITIZERS:-}; do
  builds+=("$sanitizer")
done

failed=()
flaky=()
for build in "${builds[@]}"; do
  if [[ $build == default ]]; then
    build_and_test "$build" "$base" -DSHOAL_SANITIZE= -DCMAKE_BUILD_TYPE=RelWithDebInfo ||
      failed+=("$build")
  else
    # Debug keeps assertions on and frames readable in the sanitizers' reports.
    build_and_test "$build" "$base-$build" -DSHOAL_SANITIZE="$build" -DCMAKE_BUILD_TYPE=Debug ||
      failed+=("$build")
  fi
done
for f in "${flaky[@]}"; do
  echo "flaky (failed, then passed alone): $f" >&2
done
if ((${#failed[@]})); then
  # What failed, again at the end, where a log's tail shows it.
  for build in "${failed[@]}"; do
    dir=$base
    [[ $build == default ]] || dir=$base-$build
    if [[ -s $dir/Testing/Temporary/LastTestsFailed.log ]]; then
      echo "failed in $build: $(failed_tests_in "$dir")" >&2
    fi
  done
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
