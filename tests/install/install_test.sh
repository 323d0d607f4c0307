#!/usr/bin/env bash
# Installs shoal into a temporary prefix, builds examples/ against it with
# find_package(shoal), and runs the examples against a real shoal-server.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/include/shoal/shoal.h"
test -f "$work/prefix/lib/cmake/shoal/shoalConfig.cmake" || \
  test -f "$work/prefix/lib/x86_64-linux-gnu/cmake/shoal/shoalConfig.cmake"
if grep -rlE '#include [<"](grpc|google/protobuf|absl)' "$work/prefix/include/shoal"; then
  echo "public headers include gRPC, protobuf or Abseil" >&2
  exit 1
fi
# Quiet when it works; the whole output when it does not.
if ! { cmake -S "$source/examples" -B "$work/examples" -G Ninja \
         -DCMAKE_CXX_COMPILER="${CXX:-clang++}" -DCMAKE_PREFIX_PATH="$work/prefix" &&
       cmake --build "$work/examples"; } >"$work/examples.log" 2>&1; then
  cat "$work/examples.log" >&2
  exit 1
fi

mkfifo "$work/out"
"$work/prefix/bin/shoal-server" --listen=127.0.0.1:0 --authkey-file="$work/key" >"$work/out" &
server_pid=$!
exec 3<"$work/out"
address=
while read -r -t 20 line <&3; do
  if [[ $line == *"listening on "* ]]; then
    address=${line##*listening on }
    break
  fi
done
[[ -n $address ]] || { echo "server did not start" >&2; exit 1; }
"$work/examples/hello" "$address" "$work/key"
# The README's Value and Array example prints what Python's does.
printf '3.1415927\n[0, -1, -2, -3, -4, -5, -6, -7, -8, -9]\n' >"$work/value_array.want"
"$work/examples/value_array" "$address" "$work/key" >"$work/value_array.out"
diff "$work/value_array.want" "$work/value_array.out"
"$work/examples/pipe" "$address" "$work/key"
# The README's Process with a dict and a list: the child uses the proxies it
# inherited, and the parent prints what Python's example prints.
printf "{1: '1', '2': 2, 0.25: None}\n[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]\n" >"$work/process.want"
"$work/examples/process_dict_list" "$address" "$work/key" >"$work/process.out"
diff "$work/process.want" "$work/process.out"
# The README's Pool example: a map on four forked workers, as Python's.
printf '[1, 4, 9]\n[3, 7]\n' >"$work/pool.want"
"$work/examples/pool" "$address" "$work/key" >"$work/pool.out"
diff "$work/pool.want" "$work/pool.out"
