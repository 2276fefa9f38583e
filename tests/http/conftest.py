"""BlackSheep TestClient against the real app, with the upstream replaced by httpx2.MockTransport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from blacksheep.testing import TestClient
from dependency_injector import providers

from adapters.config import settings_from_dict
from container import build_container
from entrypoints.http.app import create_app

Upstream = Callable[[httpx2.Request], httpx2.Response]


@pytest.fixture
def slept() -> list[float]:
    """The backoff waits the gateway asked for; no test waits them out for real."""
    return []


@pytest.fixture
async def gateway(slept: list[float]) -> AsyncIterator[Callable[..., Any]]:
    apps = []

    async def no_wait(seconds: float) -> None:
        slept.append(seconds)

    async def start(config: dict[str, Any], upstream: Upstream, clock: Any = None) -> TestClient:
        container = build_container(settings_from_dict(config))
        container.sleep.override(providers.Object(no_wait))
        if clock is not None:
            container.clock.override(providers.Object(clock))
        container.http_client.override(
            providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(upstream))))
        app = create_app(container)
        await app.start()
        apps.append(app)
        return TestClient(app)

    yield start
    for app in apps:
        await app.stop()
