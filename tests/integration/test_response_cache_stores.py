"""One contract for every ResponseCache: the in-memory LRU and the Redis (Lua) store must agree."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from adapters.memory.keyed_cache import InMemoryResponseCache
from adapters.redis.keyed_cache import RedisResponseCache
from domain.cache_key import CachedResponse
from domain.chat import ChatResponse, TextPart, ThinkingPart, Usage

Make = Callable[..., Any]


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    if request.param == "memory":
        yield lambda **options: InMemoryResponseCache(**options)
        return
    url, prefix = request.getfixturevalue("redis_url")
    client = redis_asyncio.Redis.from_url(url)
    yield lambda **options: RedisResponseCache(client, prefix=prefix, **options)
    await client.aclose()


def key(n: int) -> str:
    return f"{n:064x}"


def entry(text: str = "Paris") -> CachedResponse:
    response = ChatResponse(id="chatcmpl-1", model="gpt-4o-mini", created=1700000000, finish_reason="length",
                            content=[ThinkingPart("hmm", signature="sig", signed_by="anthropic"), TextPart(text)],
                            usage=Usage(12, 3, cache_read_tokens=4, reasoning_tokens=1))
    return CachedResponse(response, "fake_openai", "gpt-4o-mini", stored_at=1700000001.5)


def unit(*components: float) -> list[float]:
    return [*components, *([0.0] * (8 - len(components)))]


async def test_an_entry_round_trips(make: Make) -> None:
    store = make()
    assert await store.get(key(1)) is None
    await store.put(key(1), entry(), 60)
    found = await store.get(key(1))
    assert found == entry()
    assert await store.size() == 1


async def test_a_rewrite_replaces_the_entry(make: Make) -> None:
    store = make()
    await store.put(key(1), entry("old"), 60)
    await store.put(key(1), entry("new"), 60)
    found = await store.get(key(1))
    assert found is not None and found.response.text() == "new"
    assert await store.size() == 1


async def test_entries_expire_after_their_ttl(make: Make) -> None:
    store = make()
    await store.put(key(1), entry(), 0.05)
    await store.put(key(2), entry(), 60)
    await asyncio.sleep(0.15)
    assert await store.get(key(1)) is None
    assert await store.get(key(2)) is not None


async def test_the_size_bound_evicts_the_least_recently_used(make: Make) -> None:
    store = make(max_entries=3)  # no sleeps: uses within one millisecond keep their order
    for n in range(3):
        await store.put(key(n), entry(str(n)), 60)
    assert await store.get(key(0)) is not None  # touched: now the most recent
    await store.put(key(3), entry("3"), 60)
    await store.put(key(4), entry("4"), 60)
    assert await store.size() == 3
    assert [await store.get(key(n)) is not None for n in range(5)] == [True, False, False, True, True]


async def test_nearest_finds_the_closest_vector_of_the_bucket_above_the_threshold(make: Make) -> None:
    store = make()
    await store.put(key(1), entry("north"), 60, bucket="b", vector=unit(1.0, 0.0))
    await store.put(key(2), entry("east"), 60, bucket="b", vector=unit(0.0, 1.0))
    await store.put(key(3), entry("other bucket"), 60, bucket="c", vector=unit(0.99, 0.1))
    found = await store.nearest("b", unit(0.98, 0.2), threshold=0.95)
    assert found is not None and found[0].response.text() == "north" and found[1] == pytest.approx(0.98, abs=0.01)
    assert await store.nearest("b", unit(0.7, 0.7), threshold=0.95) is None
    assert await store.nearest("missing", unit(1.0), threshold=0.5) is None


async def test_vectors_are_normalised_so_length_does_not_matter(make: Make) -> None:
    store = make()
    await store.put(key(1), entry(), 60, bucket="b", vector=unit(3.0, 4.0))
    found = await store.nearest("b", unit(0.6, 0.8), threshold=0.999)
    assert found is not None and found[1] == pytest.approx(1.0, abs=1e-3)


async def test_each_bucket_keeps_only_its_most_recent_vectors(make: Make) -> None:
    store = make(per_bucket=2)
    await store.put(key(1), entry("first"), 60, bucket="b", vector=unit(1.0))
    await store.put(key(2), entry("second"), 60, bucket="b", vector=unit(0.0, 1.0))
    await store.put(key(3), entry("third"), 60, bucket="b", vector=unit(0.0, 0.0, 1.0))
    assert await store.nearest("b", unit(1.0), threshold=0.9) is None  # out of the candidate window
    assert await store.get(key(1)) is not None  # still an exact entry
    third = await store.nearest("b", unit(0.0, 0.0, 1.0), threshold=0.9)
    assert third is not None and third[0].response.text() == "third"


async def test_nearest_skips_candidates_whose_entry_is_gone(make: Make) -> None:
    store = make(max_entries=1)
    await store.put(key(1), entry("evicted"), 60, bucket="b", vector=unit(1.0))
    await store.put(key(2), entry("kept"), 60, bucket="b", vector=unit(0.9, 0.1))
    found = await store.nearest("b", unit(1.0), threshold=0.9)
    assert found is not None and found[0].response.text() == "kept"


async def test_an_unreachable_redis_serves_from_this_instances_local_cache() -> None:
    client = redis_asyncio.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2, socket_timeout=0.2)
    store = RedisResponseCache(client, prefix="unreachable:")
    try:
        await store.put(key(1), entry(), 60, bucket="b", vector=unit(1.0))  # fails once, kept locally
        assert store.circuit.degraded and store.status()["store"].startswith("local (degraded")
        found = await store.get(key(1))
        assert found is not None and found.response.text() == "Paris"
        near = await store.nearest("b", unit(1.0), 0.5)
        assert near is not None and near[0].response.text() == "Paris"
        assert await store.get(key(2)) is None and await store.size() == 1
    finally:
        await client.aclose()
