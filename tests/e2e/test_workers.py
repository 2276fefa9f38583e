"""`serve --workers 2`: each worker has its own SO_REUSEPORT socket, so a burst of keep-alive
connections is spread over both workers (with one shared socket the first worker to wake
could take them all)."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import three_provider_config
from tests.e2e.gateway_process import launch

pytestmark = pytest.mark.e2e


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        found.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _established_on(port: int) -> dict[int, int]:
    """socket inode -> 1 for every established TCP connection whose local port is `port`."""
    inodes: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes[int(fields[9])] = 1
    return inodes


def _socket_inodes(pid: int) -> set[int]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(int(target[8:-1]))
    return found


@pytest.fixture
def two_workers(fake_upstream: str, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    gateway = launch(three_provider_config(fake_upstream), tmp_path, "--workers", "2")
    try:
        yield gateway.port, gateway.process
    finally:
        assert gateway.stop(timeout_s=30) == 0  # SIGTERM drains and exits 0


def test_keep_alive_connections_spread_over_both_workers(two_workers: tuple[int, subprocess.Popen[bytes]]) -> None:
    port, process = two_workers
    connections = []
    try:
        for _ in range(16):  # a burst, as a load balancer's pool opens them; kept open
            conn = socket.create_connection(("127.0.0.1", port), timeout=10)
            conn.sendall(b"GET /health HTTP/1.1\r\nHost: gw\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 ")
            connections.append(conn)
        established = _established_on(port)
        per_worker = [len(_socket_inodes(child) & established.keys()) for child in _children(process.pid)]
        serving = [n for n in per_worker if n]
        assert sum(serving) == 16
        assert len(serving) == 2, per_worker  # both workers hold some of the connections
    finally:
        for conn in connections:
            conn.close()
