#!/usr/bin/env bash
# Installs what building, testing and benchmarking shoal needs on Debian
# bookworm: the toolchain and libraries from Debian's packages, and grpcurl
# from the Go module proxy. Idempotent: installs only what is missing.
set -euo pipefail

GRPCURL_VERSION=v1.9.1
packages=(
  build-essential clang cmake ninja-build pkg-config git
  # ccache: rebuilds of the same sources (each sanitizer build, a new clone)
  # take seconds instead of minutes.
  ccache
  # The sanitizer runtimes (ASan, TSan), which clang only recommends.
  libclang-rt-14-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libgtest-dev libgmock-dev openssl python3
  # io_uring's library, for the server's batched sends.
  liburing-dev
  # jq reads grpcurl's JSON in docs/grpcurl.md, whose commands a test runs.
  jq
)
if [[ "${SHOAL_BENCH_DEPS:-0}" == 1 ]]; then
  packages+=(redis-server redis-tools gnuplot-nox libhiredis-dev)
fi

sudo_if_needed() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

# grpcurl, for the tests that poke the server the way users do.
if ! command -v grpcurl >/dev/null 2>&1; then
  if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH=$PATH:/usr/local/go/bin
  fi
  if ! command -v go >/dev/null 2>&1; then
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  fi
  echo "installing grpcurl ${GRPCURL_VERSION}"
  gobin=/usr/local/bin
  [[ -w $gobin ]] || gobin=$HOME/.local/bin
  mkdir -p "$gobin"
  GOBIN=$gobin go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION}"
fi
