#!/usr/bin/env bash
# Runs the docker compose demo (docs/docker.md) and reports success or
# failure.
#
#   docker/run-demo.sh           the job on a server, a coordinator and three
#                                workers, each container a host of its own,
#                                then the pool phase: the workers serve a
#                                named Pool and the coordinator maps over it
#   docker/run-demo.sh --fault   the same, with worker-1's network cut for 6 s
#                                (docker network disconnect, then connect)
#                                while it holds stats_lock halfway through a
#                                commit, then worker-2 killed (docker kill)
#                                while it holds stats_lock halfway through a
#                                commit, with tasks in flight, then worker-3
#                                killed in the middle of the pool's map
#
# It builds the two images first (docker/Dockerfile; the compiled stage comes
# from the cache after the first build). The base image is $SHOAL_BASE_IMAGE
# when set; else debian:bookworm or shoal/debian:bookworm when present; else
# debian:bookworm when it can be pulled; else shoal/debian:bookworm, made from
# Debian's packages by make-base.sh. The authkey is docker/authkey, made
# once (mode 0600) and handed to the containers as a compose secret.
#
# Exit status 0 when the coordinator's checks passed (both phases: every
# result of the map present and correct, in order) and every worker ended as
# it should (with --fault: worker-1 kept its session across the cut and
# finished its commit on it, worker-2 killed, and the coordinator saw it
# lost, and it alone, the lock recovered and its tasks put back; worker-3
# killed mid-map, and the coordinator saw it lost holding leased tasks,
# which went back to the pool). Every wait is bounded, and the containers
# and the network are removed at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

fault=0
case "${1:-}" in
  "") ;;
  --fault) fault=1 ;;
  -h | --help) sed -n '2,/^set -euo/p' "$here/${0##*/}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--fault]" >&2; exit 2 ;;
esac
started=$SECONDS
step() { printf '== %s\n' "$*"; }
fail() { printf 'FAILED: %s\n' "$*" >&2; exit 1; }

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

docker info >/dev/null 2>&1 || fail "no Docker engine answers (docker info)"
if docker compose version >/dev/null 2>&1; then
  compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  compose=(docker-compose)
elif command -v apt-get >/dev/null 2>&1; then
  step "installing docker-compose from Debian's packages"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  compose=(docker-compose)
else
  fail "neither 'docker compose' nor docker-compose is installed"
fi

have() { docker image inspect "$1" >/dev/null 2>&1; }
if [[ -z ${SHOAL_BASE_IMAGE:-} ]]; then
  if have debian:bookworm; then
    SHOAL_BASE_IMAGE=debian:bookworm
  elif have shoal/debian:bookworm; then
    SHOAL_BASE_IMAGE=shoal/debian:bookworm
  elif timeout 300 docker pull -q debian:bookworm >/dev/null 2>&1; then
    SHOAL_BASE_IMAGE=debian:bookworm
  else
    SHOAL_BASE_IMAGE=shoal/debian:bookworm
    step "debian:bookworm cannot be pulled: making $SHOAL_BASE_IMAGE from Debian's packages"
    as_root ./make-base.sh "$SHOAL_BASE_IMAGE"
  fi
fi
export SHOAL_BASE_IMAGE

if [[ ! -s authkey ]]; then
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >authkey && echo >>authkey)
fi
chmod 600 authkey

# Build and compose logs; kept when the run fails.
logs=$(mktemp -d "${TMPDIR:-/tmp}/shoal-demo.XXXXXX")
passed=0
down() { :; }
finish() {
  down
  if [[ $passed == 1 ]]; then rm -rf "$logs"; else echo "logs: $logs" >&2; fi
}
trap finish EXIT
trap 'exit 130' INT TERM
for target in server demo-worker; do
  step "building shoal/$target from $SHOAL_BASE_IMAGE"
  t=$SECONDS
  if ! docker build -f Dockerfile --target "$target" --build-arg "BASE=$SHOAL_BASE_IMAGE" \
    -t "shoal/$target" .. >"$logs/build-$target.log" 2>&1; then
    tail -40 "$logs/build-$target.log" >&2
    fail "docker build --target $target"
  fi
  echo "   done in $((SECONDS - t)) s"
done

project=shoal-demo
if [[ $fault == 1 ]]; then
  project=shoal-demo-fault
  export SHOAL_DEMO_FAULT=1 SHOAL_DEMO_HANG_AFTER=${SHOAL_DEMO_HANG_AFTER:-20}
  export SHOAL_DEMO_PAUSE_AFTER=${SHOAL_DEMO_PAUSE_AFTER:-8}
else
  export SHOAL_DEMO_FAULT=0 SHOAL_DEMO_HANG_AFTER=0 SHOAL_DEMO_PAUSE_AFTER=0
fi
# How long worker-1's network is cut: under its pause (10 s) and the
# server's --stream-grace (10 s, compose.yaml), and past its client's
# dead-path bound (a third of the grace), so that its old connection is
# found dead during the cut even when the container gets its address back,
# and the session is resumed on a new one.
cut_seconds=6
dc() { "${compose[@]}" -p "$project" -f compose.yaml "$@"; }
down() { dc down -v --remove-orphans -t 5 >>"$logs/compose.log" 2>&1 || true; }
down

step "starting the server, the coordinator and three workers (compose project $project)"
dc up -d --no-build >>"$logs/compose.log" 2>&1 || { cat "$logs/compose.log" >&2; fail "compose up"; }
container() { dc ps -q "$1"; }
server=$(container server)
coordinator=$(container coordinator)
workers=()
for w in worker-1 worker-2 worker-3; do workers+=("$(container "$w")"); done

# Waits until container $1 (named $2) logs a line with $3.
await_log() {
  local i
  for ((i = 0; ; i++)); do
    docker logs "$1" 2>&1 | grep -F "$3" >/dev/null && return 0
    ((i < 600)) || fail "$2 did not log '$3' within 120 s"
    [[ $(docker inspect -f '{{.State.Running}}' "$1") == true ]] ||
      fail "$2 ended before logging '$3': $(docker logs "$1" 2>&1 | tail -3)"
    sleep 0.2
  done
}

if [[ $fault == 1 ]]; then
  # worker-1 says when it pauses holding stats_lock halfway through a
  # commit. Its network goes away meanwhile, without a reset to either side
  # (its interface is removed), and comes back with a new interface; its
  # client takes the old connection for dead and resumes the session.
  step "waiting for worker-1 to pause while holding stats_lock"
  await_log "${workers[0]}" worker-1 'pausing'
  docker logs "${workers[0]}" 2>&1 | grep 'pausing'
  network=$(docker inspect -f '{{range $name, $_ := .NetworkSettings.Networks}}{{$name}}{{end}}' \
    "${workers[0]}")
  step "docker network disconnect $network worker-1, for $cut_seconds s"
  docker network disconnect "$network" "${workers[0]}"
  sleep "$cut_seconds"
  step "docker network connect $network worker-1"
  docker network connect "$network" "${workers[0]}"
  await_log "${workers[0]}" worker-1 'after the pause'
  docker logs "${workers[0]}" 2>&1 | grep 'after the pause'
  docker logs "${workers[0]}" 2>&1 | grep -F 'after the pause, on session' | grep -F '(the same)' \
    >/dev/null || fail "worker-1 did not finish its commit on its own session"

  # worker-2 says when it holds stats_lock halfway through a commit; the
  # others then block on the lock. Kill it once the server shows both
  # waiting: its session ends 10 s later (the grace), and the lock goes to
  # the next waiter.
  step "waiting for worker-2 to stop while holding stats_lock"
  await_log "${workers[1]}" worker-2 'stopped here until killed'
  docker logs "${workers[1]}" 2>&1 | grep 'stopped here until killed'
  docker exec "$server" shoal show stats_lock --waiting=2 --timeout=60s ||
    fail "the other workers never waited on stats_lock"
  step "docker kill worker-2"
  docker kill "${workers[1]}" >/dev/null

  # The pool phase: worker-3 says when it has run 200 tasks of the pool's
  # map, from inside a task, so with a chunk leased to it. Killed then, its
  # session ends 10 s later (the grace), and the tasks of its chunk not
  # reported go back to the pool and run on worker-1.
  step "waiting for worker-3 to be in the middle of the pool's map"
  await_log "${workers[2]}" worker-3 'tasks of the map run here'
  docker logs "${workers[2]}" 2>&1 | grep 'tasks of the map run here'
  step "docker kill worker-3"
  docker kill "${workers[2]}" >/dev/null
  docker exec "$server" shoal show demo-pool || true
fi

step "waiting for the coordinator"
status=$(timeout 600 docker wait "$coordinator" 2>/dev/null) || status="timeout (600 s)"

# One timeline from every client container, oldest line first.
for c in "$coordinator" "${workers[@]}"; do docker logs -t "$c" 2>&1; done |
  sort -s -k1,1 | cut -d' ' -f2- | grep -v '^$' || true

problems=()
[[ $status == 0 ]] || problems+=("the coordinator ended with status $status")
if [[ $fault == 1 ]]; then
  # worker-1's cut was shorter than the grace: its session lived on.
  lost=$(docker logs "$coordinator" 2>&1 | grep -E '^workers: .*lost:' | tail -1)
  [[ $lost == *"lost: worker-2#"* && $lost != *worker-1* ]] ||
    problems+=("the coordinator did not lose worker-2 alone: ${lost:-no summary}")
  # ... and worker-3, alone, in the pool phase.
  pool_lost=$(docker logs "$coordinator" 2>&1 | grep -E '^pool lost:' | tail -1)
  [[ $pool_lost == *"worker-3#"*" mid-map, holding "* && $pool_lost != *worker-1* ]] ||
    problems+=("the coordinator did not lose worker-3 alone mid-map: ${pool_lost:-no summary}")
fi
for i in 0 1 2; do
  name=worker-$((i + 1))
  code=$(docker inspect -f '{{.State.ExitCode}}' "${workers[i]}")
  running=$(docker inspect -f '{{.State.Running}}' "${workers[i]}")
  if [[ $fault == 1 && ($name == worker-2 || $name == worker-3) ]]; then
    [[ $code == 137 ]] || problems+=("$name was not killed (exit status $code)")
  elif [[ $running == true ]]; then
    problems+=("$name still runs")
  elif [[ $code != 0 ]]; then
    problems+=("$name ended with status $code")
  fi
done
if ((${#problems[@]})); then
  echo "server log:" >&2
  docker logs --tail 20 "$server" >&2 || true
  for p in "${problems[@]}"; do echo "FAILED: $p" >&2; done
  exit 1
fi
passed=1
step "demo $([[ $fault == 1 ]] && echo '(fault run) ' || true)passed in $((SECONDS - started)) s"
