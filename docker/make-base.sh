#!/usr/bin/env bash
# Makes a Debian bookworm base image from Debian's packages, for machines
# where no image can be pulled: debootstrap a minimal system into a folder,
# then docker import it. The image has the same APT sources as the
# debian:bookworm image (bookworm, bookworm-updates, bookworm-security).
#
# Usage: docker/make-base.sh [IMAGE]   (default shoal/debian:bookworm)
#
# Idempotent: does nothing when IMAGE exists; two runs at once make it once.
# Needs root (debootstrap, installed from Debian's packages when missing) and
# a Debian mirror: $DEBIAN_MIRROR (default http://deb.debian.org/debian) and
# $DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security).
set -euo pipefail
image=${1:-shoal/debian:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
tmp=${TMPDIR:-/tmp}

exec 9>"$tmp/shoal-make-base.lock"
flock 9
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image exists"
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "make-base.sh: debootstrap needs root; run it with sudo" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

rootfs=$(mktemp -d "$tmp/shoal-rootfs.XXXXXX")
cleanup() {
  # A debootstrap that failed may leave its mounts behind; never delete
  # through them.
  for m in dev/pts dev proc sys; do
    if mountpoint -q "$rootfs/$m" 2>/dev/null; then umount -l "$rootfs/$m" || true; fi
  done
  rm -rf --one-file-system "$rootfs" "$rootfs.log"
}
trap cleanup EXIT

echo "debootstrap bookworm from $mirror (a few minutes)"
if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
  tail -20 "$rootfs.log" >&2
  exit 1
fi

rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
# As in debian:bookworm: no package cache or lists, and no traces of the
# machine that made it (the container runtime provides hostname and DNS).
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/*
: >"$rootfs/etc/hostname"
: >"$rootfs/etc/resolv.conf"

tar --numeric-owner -C "$rootfs" -c . |
  docker import \
    -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    -c 'CMD ["bash"]' - "$image" >/dev/null
echo "base image $image made"
