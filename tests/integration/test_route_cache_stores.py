"""Routing decisions in both RouteCache stores (in-memory and Redis); the store mechanics they share
with the response cache (TTL, LRU bound, semantic buckets) are the response-cache contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio

from adapters.memory.keyed_cache import InMemoryRouteCache
from adapters.redis.keyed_cache import RedisResponseCache, RedisRouteCache
from domain.route_cache import CachedRoute

Make = Callable[..., Any]
ROUTE = CachedRoute("dear:large", ("mid:medium", "cheap:small"), 0.625, "router", stored_at=1700000000.5)


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Make]:
    if request.param == "memory":
        yield lambda **options: InMemoryRouteCache(**options)
        return
    url, prefix = request.getfixturevalue("redis_url")
    client = redis_asyncio.Redis.from_url(url)
    yield lambda **options: RedisRouteCache(client, prefix=prefix, **options)
    await client.aclose()


def key(n: int) -> str:
    return f"{n:064x}"


async def test_a_decision_round_trips(make: Make) -> None:
    store = make()
    assert await store.get(key(1)) is None
    await store.put(key(1), ROUTE, 60)
    assert await store.get(key(1)) == ROUTE
    unestimated = CachedRoute("ext:m", (), None, "external")
    await store.put(key(2), unestimated, 60)
    assert await store.get(key(2)) == unestimated


async def test_nearest_finds_a_decision_by_its_vector(make: Make) -> None:
    store = make()
    await store.put(key(1), ROUTE, 60, bucket="b", vector=[1.0, 0.0, 0.0, 0.0])
    found = await store.nearest("b", [0.99, 0.1, 0.0, 0.0], 0.9)
    assert found is not None and found[0] == ROUTE and found[1] > 0.99
    assert await store.nearest("b", [0.0, 1.0, 0.0, 0.0], 0.9) is None
    assert await store.nearest("other", [1.0, 0.0, 0.0, 0.0], 0.9) is None


async def test_the_size_bound_evicts_the_least_recently_used(make: Make) -> None:
    store = make(max_entries=2)  # no sleeps: uses within one millisecond keep their order
    await store.put(key(1), ROUTE, 60)
    await store.put(key(2), ROUTE, 60)
    assert await store.get(key(1)) == ROUTE  # key 2 is now the least recently used
    await store.put(key(3), ROUTE, 60)
    assert await store.get(key(2)) is None
    assert await store.get(key(1)) == ROUTE and await store.get(key(3)) == ROUTE
    assert await store.size() == 2


async def test_routes_and_responses_share_a_redis_without_colliding(redis_url) -> None:
    url, prefix = redis_url
    client = redis_asyncio.Redis.from_url(url)
    try:
        routes = RedisRouteCache(client, prefix=prefix)
        responses = RedisResponseCache(client, prefix=prefix)
        await routes.put(key(9), ROUTE, 60)
        assert await responses.get(key(9)) is None
        assert await responses.size() == 0 and await routes.size() == 1
        assert sorted(k.decode() for k in await client.keys(prefix + "*")) == [
            f"{prefix}rt:e:{key(9)}", f"{prefix}rt:lru", f"{prefix}rt:lru:seq"]
    finally:
        await client.aclose()
