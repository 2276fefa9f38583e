"""Gateways as real `adaptive-proxy serve` subprocesses, started one way for every e2e test.

`launch(config, workdir, *extra)` writes the config as YAML, starts the server on a free port
(provider API keys of the test environment are not passed on), waits until `/health` answers and
returns a `Gateway` (URL, port, process, log). A gateway that does not come up is killed and the
error carries the tail of its log. `gateway_process` is the same as a context manager that
terminates the process at the end.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

READY_TIMEOUT_S = 90.0  # generous: a loaded CI machine can take many seconds to import the SDKs


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes] | None = None,
                     timeout_s: float = READY_TIMEOUT_S) -> None:
    """Poll `url` until any HTTP answer comes back (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before it was ready")
        try:
            httpx.get(url, timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} was not ready after {timeout_s}s")


def _serve_command() -> list[str]:
    script = Path(sys.executable).parent / "adaptive-proxy"
    if script.exists():
        return [str(script)]
    found = shutil.which("adaptive-proxy")
    if found:
        return [found]
    return [sys.executable, "-c", "from entrypoints.cli import main; main()"]


@dataclass
class Gateway:
    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout_s: float = 15) -> int:
        """SIGTERM, then SIGKILL after `timeout_s`; the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def launch(config: dict[str, Any], workdir: Path, *extra: str) -> Gateway:
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "gateway.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with log_path.open("wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen([*_serve_command(), "serve", "--config", str(config_path), "--host", "127.0.0.1",
                                    "--port", str(port), *extra], cwd=workdir, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    gateway = Gateway(f"http://127.0.0.1:{port}", port, process, log_path)
    try:
        wait_until_ready(f"{gateway.url}/health", process)
    except RuntimeError as exc:
        process.kill()
        process.wait()
        raise RuntimeError(f"gateway did not start ({exc}):\n{gateway.log()[-4000:]}") from None
    return gateway


@contextmanager
def gateway_process(config: dict[str, Any], workdir: Path, *extra: str) -> Iterator[Gateway]:
    gateway = launch(config, workdir, *extra)
    try:
        yield gateway
    finally:
        gateway.stop()
