"""One gateway as a uvicorn subprocess of its own (its PID for RSS and signals, its log), for the
tests that need the real socket and process: body limits, disconnects, shutdown."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.e2e.conftest import _serve_command, free_port, wait_until_ready


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


@contextmanager
def gateway_process(config: dict[str, Any], workdir: Path) -> Iterator[Gateway]:
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "gateway.log"
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    with log_path.open("wb") as log:
        process = subprocess.Popen([*_serve_command(), "serve", "--config", str(config_path), "--host", "127.0.0.1",
                                    "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    gateway = Gateway(f"http://127.0.0.1:{port}", port, process, log_path)
    try:
        wait_until_ready(f"{gateway.url}/health", process)
        yield gateway
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
