#!/usr/bin/env bash
# Build the container base image without a registry: debootstrap a minimal Debian bookworm with
# python3 + venv from the mirror apt already uses, then `docker import` it. Idempotent: does
# nothing when the image exists. Needs root, debootstrap and a running Docker engine.
set -euo pipefail
image="${1:-adaptive-proxy-base:bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "base image $image already present"
  exit 0
fi
# The first non-security mirror apt is configured with (`|| true`: a missing sources file or
# head closing the pipe early must not end the script under `set -e -o pipefail`).
detected="$( (grep -hoE '^(URIs:|deb) +https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null || true) \
  | grep -v security | awk 'NR == 1 {print $2}' || true)"
mirror="${DEBIAN_MIRROR:-$detected}"
mirror="${mirror:-http://deb.debian.org/debian}"
root="$(mktemp -d /tmp/adaptive-proxy-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$root" "$mirror"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$image"
echo "imported $image from $mirror"
