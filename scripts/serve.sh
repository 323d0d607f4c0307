#!/usr/bin/env bash
# Installs what is needed, builds shoal-server, and runs it on 127.0.0.1:50051
# with a generated authkey (or the one in $SHOAL_AUTHKEY). Arguments go to
# shoal-server, e.g. scripts/serve.sh --listen=0.0.0.0:50051 --authkey-file=shoal.key
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/install-deps.sh"
"$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=Release -DSHOAL_BUILD_TESTS=OFF >/dev/null
exec "${SHOAL_BUILD_DIR:-$root/build}/server/shoal-server" "$@"
