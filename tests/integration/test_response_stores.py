"""One contract for every ResponseStore: in memory and in a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from dependency_injector import providers

from adapters.memory.response_store import InMemoryResponseStore
from adapters.redis.response_store import RedisResponseStore
from domain.errors import ServiceUnavailable
from tests.clock import FrozenClock

Make = Callable[..., Any]


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    clock = FrozenClock(t=1_700_000_000.0)
    if request.param == "memory":
        yield lambda **options: InMemoryResponseStore(clock, **options)
        return  # (both share the clock; the bound test moves it between writes)
    url, prefix = request.getfixturevalue("redis_url")
    client = redis_asyncio.Redis.from_url(url)

    yield lambda **options: RedisResponseStore(client, clock, prefix=prefix, **options)
    await client.aclose()


def document(n: int) -> dict[str, Any]:
    return {"response": {"id": f"resp_{n}", "output": [{"type": "message", "content": [{"text": "é"}]}]},
            "items": [{"role": "user", "content": f"q{n}"}]}


async def test_a_document_round_trips_and_deletes(make: Make) -> None:
    store = make()
    assert await store.get("resp_1") is None
    await store.put("resp_1", document(1))
    assert await store.get("resp_1") == document(1)
    assert await store.delete("resp_1") is True
    assert await store.get("resp_1") is None
    assert await store.delete("resp_1") is False


async def test_a_returned_document_is_a_copy(make: Make) -> None:
    store = make()
    original = document(1)
    await store.put("resp_1", original)
    original["items"].append("later edit")
    found = await store.get("resp_1")
    found["items"].clear()
    assert await store.get("resp_1") == document(1)


async def test_the_oldest_entries_go_beyond_the_bound(make: Make) -> None:
    store = make(max_entries=2)
    for n in range(1, 4):
        await store.put(f"resp_{n}", document(n))
        store._clock.t += 1  # one second apart: Redis orders entries by insertion time
    assert await store.get("resp_1") is None
    assert await store.get("resp_2") == document(2)
    assert await store.get("resp_3") == document(3)


async def test_entries_expire_after_the_ttl(request: pytest.FixtureRequest) -> None:
    clock = FrozenClock()
    memory = InMemoryResponseStore(clock, ttl_s=10)
    await memory.put("resp_1", document(1))
    clock.t += 9.9
    assert await memory.get("resp_1") == document(1)
    clock.t += 0.2
    assert await memory.get("resp_1") is None
    url, prefix = request.getfixturevalue("redis_url")
    client = redis_asyncio.Redis.from_url(url)
    try:
        store = RedisResponseStore(client, clock, prefix=prefix, ttl_s=30)
        await store.put("resp_1", document(1))
        assert 29_000 < await client.pttl(f"{prefix}rs:e:resp_1") <= 30_000  # Redis expires the entry itself
        clock.t += 31  # by the injected clock, resp_1 is now past its TTL: the next write drops its index entry
        await store.put("resp_2", document(2))
        assert await client.zrange(f"{prefix}rs:order", 0, -1) == [b"resp_2"]
    finally:
        await client.aclose()


async def test_the_container_builds_the_store_from_responses_settings() -> None:
    from application.settings import Settings
    from container import build_container

    container = build_container(Settings.model_validate({"responses": {"store_ttl_s": 5, "store_max_entries": 1}}))
    clock = FrozenClock()
    container.clock.override(providers.Object(clock))
    store = container.response_store()
    await store.put("resp_1", document(1))
    await store.put("resp_2", document(2))
    assert await store.get("resp_1") is None  # store_max_entries: 1
    clock.t += 5
    assert await store.get("resp_2") is None  # store_ttl_s: 5


async def test_an_unreachable_redis_is_a_clear_error() -> None:
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisResponseStore(client, FrozenClock())
    with pytest.raises(ServiceUnavailable):
        await store.get("resp_1")
    with pytest.raises(ServiceUnavailable):
        await store.put("resp_1", document(1))
    await client.aclose()
