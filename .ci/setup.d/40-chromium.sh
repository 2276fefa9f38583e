#!/usr/bin/env bash
# Debian's Chromium for the dashboard's browser tests (tests/ui), driven by Playwright.
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
apt_install chromium chromium-driver
