"""Run one in-process fake upstream (uvicorn in a background thread) for the whole session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from devtools.fake_upstream import FakeState, running_in_thread


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
    with running_in_thread() as (url, state):
        yield FakeServer(url, state)


@pytest.fixture
def fake(fake_server: FakeServer) -> FakeServer:
    """The session server with faults and counters reset before the test."""
    fake_server.state.reset()
    return fake_server
