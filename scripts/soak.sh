#!/usr/bin/env bash
# Runs shoal-soak (docs/reliability.md, "Soak") on the plain build in build/
# (or $SHOAL_BUILD_DIR), building it first if needed. Arguments go to
# shoal-soak, such as --seconds 40 for CI's short run or --seconds 600 for a
# long one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SHOAL_BUILD_DIR:-$root/build}
if [[ ! -f $build/build.ninja ]]; then
  SHOAL_BUILD_DIR=$build "$root/scripts/build.sh" -DSHOAL_SANITIZE= -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" --target shoal-soak shoal-server -j "${SHOAL_JOBS:-$(nproc)}"
exec "$build/tools/shoal-soak" --server-bin "$build/server/shoal-server" "$@"
