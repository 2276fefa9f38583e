#!/usr/bin/env bash
# The container base image (no registry here): debootstrap + docker import, skipped when present.
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
apt_install debootstrap
cd "$(dirname "$0")/../.."
deploy/base-image.sh adaptive-proxy-base:bookworm
