#!/usr/bin/env bash
# Runs the docker compose demo's program (docker/demo/shoal_demo.cc) without
# Docker: a shoal-server, the coordinator and three workers as processes of
# this host, the job then the pool phase, with smaller counts than the
# compose demo's and a grace of 2 s.
# Usage: demo_test.sh BUILD_DIR [--fault]
#   --fault: worker-2 is SIGKILLed holding stats_lock halfway through a
#   commit (--hang-after), and worker-3 in the middle of the pool's map, once
#   each says so; the coordinator runs with --expect-fault.
# Passes when the coordinator's checks pass and every worker not killed
# ends with status 0.
set -euo pipefail
build=$1
fault=0
[[ ${2:-} == --fault ]] && fault=1
demo=$build/docker/demo/shoal_demo
work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  local f
  for f in "$work"/*.out; do printf '%s\n' "--- ${f##*/}" && cat "$f"; done >&2
  echo "FAILED: $*" >&2
  exit 1
}

# Waits until the file $1 has a line with $2 (60 s at most).
await_line() {
  local i
  for ((i = 0; i < 600; i++)); do
    grep -qF "$2" "$1" && return 0
    sleep 0.1
  done
  fail "no '$2' in ${1##*/} within 60 s"
}

(umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/key")
"$build/server/shoal-server" --listen=127.0.0.1:0 --authkey-file="$work/key" \
  --stream-grace=2s >"$work/server.out" 2>&1 &
pids+=($!)
await_line "$work/server.out" "listening on "
address=$(sed -n 's/.*listening on \([^ ]*\).*/\1/p' "$work/server.out" | head -1)
export SHOAL_SERVER=$address SHOAL_AUTHKEY_FILE=$work/key

"$demo" coordinator --workers=3 --tasks=100 --pool-tasks=1500 --pool-work-ms=2 \
  --expect-fault=$fault >"$work/coordinator.out" 2>&1 &
coordinator=$!
pids+=("$coordinator")
hang=0
((fault)) && hang=10
workers=()
for name in worker-1 worker-2 worker-3; do
  args=(worker --name=$name)
  [[ $name == worker-2 ]] && args+=(--hang-after=$hang)
  "$demo" "${args[@]}" >"$work/$name.out" 2>&1 &
  workers+=($!)
  pids+=($!)
done

if ((fault)); then
  await_line "$work/worker-2.out" "stopped here until killed"
  kill -9 "${workers[1]}"
  wait "${workers[1]}" 2>/dev/null || true
  await_line "$work/worker-3.out" "tasks of the map run here"
  kill -9 "${workers[2]}"
  wait "${workers[2]}" 2>/dev/null || true
fi

status=0
wait "$coordinator" || status=$?
[[ $status == 0 ]] || fail "the coordinator ended with status $status"
for i in 0 1 2; do
  ((fault && i > 0)) && continue
  status=0
  wait "${workers[i]}" || status=$?
  [[ $status == 0 ]] || fail "worker-$((i + 1)) ended with status $status"
done
lost=$(grep '^pool lost:' "$work/coordinator.out" || true)
if ((fault)); then
  [[ $lost == *"worker-3#"*" mid-map, holding "* ]] || fail "worker-3 not lost mid-map: $lost"
else
  [[ $lost == *none ]] || fail "a pool worker was lost: $lost"
fi
sed -n '/== shoal pool summary ==/,$p' "$work/coordinator.out"
