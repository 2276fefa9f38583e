"""One contract for every ResponseStore: in memory and in a real Redis."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from dependency_injector import providers
from sqlalchemy.engine import make_url

from adapters.memory.response_store import InMemoryResponseStore
from adapters.redis.client import redis_client
from adapters.redis.response_store import RedisResponseStore
from tests.clock import FrozenClock
from tests.integration import test_redis_fallback
from tests.integration.test_store_outage_postgres import Forwarder

Make = Callable[..., Any]
frozen_port = test_redis_fallback.frozen_port  # the fixture: a Redis that accepts and never answers


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


async def test_a_frozen_redis_costs_one_timeout_then_the_local_store_serves(frozen_port: int) -> None:
    client = redis_client(f"redis://127.0.0.1:{frozen_port}/0", timeout_s=0.2)
    assert client is not None
    store = RedisResponseStore(client, FrozenClock(), retry_after_s=5)
    try:
        started = time.monotonic()
        await store.put("resp_1", document(1))  # one timeout, then kept locally
        assert time.monotonic() - started < 1.0 and store.status()["degraded"] is True
        started = time.monotonic()
        for n in range(50):
            await store.put(f"resp_{n}", document(n))
            assert await store.get(f"resp_{n}") == document(n)
        assert time.monotonic() - started < 0.2  # no Redis round trip per request meanwhile
    finally:
        await client.aclose()


async def test_back_to_redis_once_it_answers(redis_url: tuple[str, str]) -> None:
    url, prefix = redis_url
    target = make_url(url.replace("redis://", "postgresql://", 1))  # only to parse host and port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = redis_client(f"redis://127.0.0.1:{port}/{target.database or 0}", timeout_s=0.5)
    assert client is not None
    clock = FrozenClock()
    store = RedisResponseStore(client, clock, prefix=prefix, retry_after_s=5)
    forward = Forwarder(target.host or "127.0.0.1", target.port or 6379)
    forward.port = port
    shared = redis_asyncio.Redis.from_url(url)
    try:
        await store.put("resp_local", document(1))  # nothing listens: local
        assert store.status()["degraded"] is True
        await forward.start()
        clock.t += 5
        assert await store.get("resp_local") == document(1)  # still local: a background PING is sent
        await store.circuit.settle()  # it answered
        assert store.status() == {"store": "redis", "degraded": False}
        await store.put("resp_shared", document(2))
        assert await shared.exists(f"{prefix}rs:e:resp_shared") == 1  # in Redis, for every instance
        assert await store.get("resp_local") == document(1)  # what was kept meanwhile is still served
    finally:
        await forward.cut()
        await shared.aclose()
        await client.aclose()
