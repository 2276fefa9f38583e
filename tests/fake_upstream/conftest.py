"""Run one in-process fake upstream (uvicorn in a background thread) for the whole session."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from entrypoints.fake_upstream import FakeState, create_app, server_config


@dataclass
class FakeServer:
    """Handle on the running fake: its base URL and its state."""

    url: str
    state: FakeState

    def control(self, path: str, payload: dict[str, object] | None = None) -> dict[str, object]:
        """POST to the control API and return its JSON reply."""
        response = httpx.post(f"{self.url}{path}", json=payload or {}, timeout=5)
        response.raise_for_status()
        return response.json()

    def stats(self) -> dict[str, object]:
        """GET /_fake/stats."""
        return httpx.get(f"{self.url}/_fake/stats", timeout=5).json()


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeServer]:
    """Start the fake on a free port and stop it at the end of the session."""
    state = FakeState()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(server_config(create_app(state), "127.0.0.1", port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("fake upstream did not start")
        time.sleep(0.01)
    yield FakeServer(f"http://127.0.0.1:{port}", state)
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture
def fake(fake_server: FakeServer) -> FakeServer:
    """The session server with faults and counters reset before the test."""
    fake_server.state.reset()
    return fake_server
