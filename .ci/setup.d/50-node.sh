#!/usr/bin/env bash
# npm for the coding agents the suite runs as clients (tests/agents; `make agents` runs `npm ci`).
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
