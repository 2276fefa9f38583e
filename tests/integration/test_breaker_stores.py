"""One contract for every BreakerStore: the in-memory store and the Redis (Lua) store must agree."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio

from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.redis.breaker_store import RedisBreakerStore
from domain.breaker import BreakerPolicy

POLICY = BreakerPolicy(failure_threshold=3, success_threshold=2, open_timeout_s=10, half_open_max_probes=2)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[object]:
    if request.param == "memory":
        yield InMemoryBreakerStore()
        return
    url, prefix = request.getfixturevalue("redis_url")
    client = redis_asyncio.Redis.from_url(url)
    yield RedisBreakerStore(client, prefix=prefix)
    await client.aclose()


def _core(snap):
    return snap.state, snap.failures, snap.successes, snap.probes


async def test_full_cycle(store) -> None:
    assert await store.admit("p", POLICY, 0)
    for i in range(2):
        assert _core(await store.record("p", False, POLICY, i)) == ("closed", i + 1, 0, 0)
    assert _core(await store.record("p", True, POLICY, 2)) == ("closed", 0, 0, 0)
    for _ in range(3):
        snap = await store.record("p", False, POLICY, 5)
    assert _core(snap) == ("open", 3, 0, 0)
    assert not await store.admit("p", POLICY, 14.9)
    assert await store.admit("p", POLICY, 15)  # half-open, probe 1
    assert await store.admit("p", POLICY, 15)  # probe 2
    assert not await store.admit("p", POLICY, 15)  # bounded probes
    assert _core(await store.record("p", True, POLICY, 16)) == ("half_open", 0, 1, 1)
    assert _core(await store.record("p", True, POLICY, 16)) == ("closed", 0, 0, 0)
    assert await store.admit("p", POLICY, 16)


async def test_half_open_failure_reopens(store) -> None:
    for _ in range(3):
        await store.record("q", False, POLICY, 0)
    assert await store.admit("q", POLICY, 10)
    snap = await store.record("q", False, POLICY, 11)
    assert snap.state == "open" and snap.changed_at == 11
    assert not await store.admit("q", POLICY, 20)
    assert await store.admit("q", POLICY, 21)


async def test_keys_are_independent_and_visible_in_snapshots(store) -> None:
    for _ in range(3):
        await store.record("a", False, POLICY, 0)
    await store.record("b", False, POLICY, 0)
    snaps = await store.snapshots()
    assert snaps["a"].state == "open"
    assert snaps["b"].state == "closed" and snaps["b"].failures == 1


async def test_two_instances_share_state_through_redis(redis_url) -> None:
    url, prefix = redis_url
    one, two = redis_asyncio.Redis.from_url(url), redis_asyncio.Redis.from_url(url)
    try:
        first, second = RedisBreakerStore(one, prefix=prefix), RedisBreakerStore(two, prefix=prefix)
        for _ in range(3):
            await first.record("shared", False, POLICY, 0)
        assert not await second.admit("shared", POLICY, 1)
        keys = [k async for k in one.scan_iter(match=f"{prefix}*")]
        assert keys and all([await one.pttl(k) > 0 for k in keys])  # nothing is left forever
    finally:
        await one.aclose()
        await two.aclose()


async def test_unreachable_redis_degrades_to_local_state() -> None:
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    store = RedisBreakerStore(client)
    try:
        for _ in range(3):
            await store.record("p", False, POLICY, 0)
        assert not await store.admit("p", POLICY, 1)  # still a working breaker, locally
        assert store.status()["store"] == "local (degraded)"
    finally:
        await client.aclose()


async def test_snapshot_reads_one_key_without_changing_it(store) -> None:
    assert _core(await store.snapshot("never-seen")) == ("closed", 0, 0, 0)
    for _ in range(3):
        await store.record("s", False, POLICY, 7)
    for _ in range(3):  # reading, unlike admit, never moves an open breaker to half-open
        snap = await store.snapshot("s")
        assert (_core(snap), snap.changed_at) == (("open", 3, 0, 0), 7)
    assert await store.admit("s", POLICY, 17)
    assert _core(await store.snapshot("s"))[0] == "half_open"
