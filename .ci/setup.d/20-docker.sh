#!/usr/bin/env bash
# A Docker engine for the image test: docker.io from apt, dockerd started in the background when
# none answers (log: /var/log/adaptive-proxy-ci-dockerd.log, PID in /run/adaptive-proxy-ci-dockerd.pid).
set -euo pipefail
. "$(dirname "$0")/lib.sh.inc"
command -v dockerd >/dev/null || apt_install docker.io
if ! docker info >/dev/null 2>&1; then
  nohup dockerd >/var/log/adaptive-proxy-ci-dockerd.log 2>&1 &
  echo $! >/run/adaptive-proxy-ci-dockerd.pid
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null
fi
