"""Debian's nginx run as a child process of the caller, with a generated config in a directory of
its own: a round-robin load balancer in front of several gateways (tests/e2e/test_scale_out.py),
or a canned upstream that answers every request with one fixed body (bench/run.py --workers).

`.ci/setup.d/60-nginx.sh` installs the package; its system service is never used. The process is
started with `daemon off` and stopped by its PID (SIGQUIT: graceful, then SIGKILL if it hangs)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

NGINX = "/usr/sbin/nginx"
SERVED_BY = "x-served-by"  # response header naming the upstream that answered (balancer only)


def available() -> bool:
    return Path(NGINX).exists() or shutil.which("nginx") is not None


def _binary() -> str:
    return NGINX if Path(NGINX).exists() else (shutil.which("nginx") or NGINX)


def _preamble(workdir: Path, worker_processes: int) -> str:
    temp = "\n".join(f"  {name}_temp_path {workdir / name};"
                     for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root nginx would hand its workers to `nobody`, who cannot enter a private temp directory.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (f"{user}worker_processes {worker_processes};\npid {workdir / 'nginx.pid'};\n"
            f"error_log {workdir / 'error.log'} warn;\nevents {{ worker_connections 4096; }}\n"
            f"http {{\n  access_log off;\n{temp}\n")


def balancer_config(workdir: Path, port: int, backends: Sequence[str], worker_processes: int = 1) -> str:
    """Round robin over `backends` (`host:port`), unbuffered, with the answering one in `x-served-by`."""
    servers = "\n".join(f"    server {backend};" for backend in backends)
    return (_preamble(workdir, worker_processes)
            + f"  upstream gateways {{\n{servers}\n    keepalive 32;\n  }}\n"
            f"  server {{\n    listen 127.0.0.1:{port};\n    client_max_body_size 32m;\n"
            "    location / {\n      proxy_pass http://gateways;\n      proxy_http_version 1.1;\n"
            '      proxy_set_header Connection "";\n      proxy_set_header Host $host;\n'
            "      proxy_buffering off;\n      proxy_read_timeout 60s;\n"
            f"      add_header {SERVED_BY} $upstream_addr always;\n    }}\n  }}\n}}\n")


def canned_config(workdir: Path, port: int, body: str, worker_processes: int = 1) -> str:
    """Every request answered 200 with `body` as JSON (POST included: `return` runs before any handler)."""
    escaped = body.replace("\\", "\\\\").replace("'", "\\'")
    return (_preamble(workdir, worker_processes)
            + f"  server {{\n    listen 127.0.0.1:{port} backlog=4096;\n    keepalive_requests 1000000;\n"
            "    location / {\n      default_type application/json;\n"
            f"      return 200 '{escaped}';\n    }}\n  }}\n}}\n")


def _wait_listening(port: int, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode}: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nginx not listening on {port} after {timeout_s}s")


@contextlib.contextmanager
def running(config: str, workdir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Start nginx on `config` (written to workdir/nginx.conf), wait for `port`, stop it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "nginx.conf"
    path.write_text(config)
    log = workdir / "stderr.log"
    with log.open("wb") as out:
        process = subprocess.Popen([_binary(), "-p", str(workdir), "-e", str(workdir / "error.log"), "-c", str(path),
                                    "-g", "daemon off;"], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port, process, log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(3)  # SIGQUIT: graceful shutdown of the master and its workers
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
