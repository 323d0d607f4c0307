#!/usr/bin/env bash
# Installs what is needed, builds, and runs every test with ctest.
# SHOAL_SANITIZE=address or thread builds and tests a sanitizer build instead,
# in build-address/ or build-thread/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
export PATH=$PATH:$HOME/.local/bin:/usr/local/go/bin
if [[ -n "${SHOAL_SANITIZE:-}" ]]; then
  export SHOAL_BUILD_DIR=$root/build-$SHOAL_SANITIZE
  "$root/scripts/build.sh" -DSHOAL_SANITIZE="$SHOAL_SANITIZE" -DCMAKE_BUILD_TYPE=Debug
else
  "$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cd "${SHOAL_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j "${SHOAL_TEST_JOBS:-2}" --timeout 300
