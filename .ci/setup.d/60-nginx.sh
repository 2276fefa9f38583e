#!/usr/bin/env bash
# Debian's nginx (the load balancer of tests/e2e/test_scale_out.py and the canned upstream of
# `bench/run.py --workers`, both run as the caller's own process: devtools/nginx.py) and wrk
# (the load generator of `bench/run.py --workers`). The package's own service is not used.
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
apt_install nginx wrk
