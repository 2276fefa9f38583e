#!/usr/bin/env bash
# The ClickHouse server binary: the tests start their own server from it (no service needed).
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
apt_install clickhouse-server
