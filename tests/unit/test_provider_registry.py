"""Override clients live in a bounded LRU; evicted ones are closed and forgotten, not kept to shutdown."""

from __future__ import annotations

import asyncio
from typing import Any

from application.providers import ProviderRegistry
from application.settings import ProviderSettings


class _Client:
    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    async def aclose(self) -> None:
        self.closed = True


class _Factory:
    def __init__(self) -> None:
        self.built: list[_Client] = []

    def create(self, name: str, settings: ProviderSettings) -> Any:
        client = _Client(name)
        self.built.append(client)
        return client


def _override(i: int) -> ProviderSettings:
    return ProviderSettings(kind="openai", base_url=f"http://h{i}.test/v1", api_key="k")


async def test_evicted_override_clients_are_closed_and_not_retained() -> None:
    factory = _Factory()
    registry = ProviderRegistry(factory, {"a": ProviderSettings(kind="openai", api_key="k")}, max_override_clients=4)
    for i in range(200):
        registry.get("a", _override(i))
    for _ in range(2):  # one loop turn runs the closes, the next their done-callbacks
        await asyncio.sleep(0)
    overrides = factory.built[1:]
    assert len(overrides) == 200
    assert sum(c.closed for c in overrides) == 196 and not any(c.closed for c in overrides[-4:])
    assert not registry._closing  # nothing accumulates
    assert registry.get("a", _override(199)) is overrides[-1]  # a repeat still reuses its client
    await registry.aclose()
    assert all(c.closed for c in factory.built)
