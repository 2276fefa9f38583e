"""Rate limits against a real Redis: atomic under concurrency, and one limit across two gateway
instances sharing it (where in-memory limits would each admit the full quota)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as redis_asyncio

from adapters.redis.rate_limiter import RedisRateLimiter
from tests.http import metered as harness
from tests.http.metered import bearer, chat, metered_config

metered = harness.metered  # the shared fixture

pytestmark = pytest.mark.integration


async def test_concurrent_acquires_admit_exactly_the_limit(redis_url: tuple[str, str]) -> None:
    url, prefix = redis_url
    clients = [redis_asyncio.Redis.from_url(url) for _ in range(2)]
    try:
        limiters = [RedisRateLimiter(c, prefix) for c in clients]
        decisions = await asyncio.gather(*(limiters[i % 2].acquire("key:1", 10) for i in range(60)))
        assert sum(d.allowed for d in decisions) == 10
        refused = [d.retry_after for d in decisions if not d.allowed]
        assert all(0 < wait <= 60 for wait in refused)
        assert (await limiters[0].acquire("key:2", 10)).allowed  # another bucket
        assert await clients[0].ttl(f"{prefix}rl:key:1") > 0  # buckets expire on their own
    finally:
        for client in clients:
            await client.aclose()


async def test_two_instances_share_one_limit(metered, tmp_path: Path, redis_url: tuple[str, str]) -> None:
    url, prefix = redis_url
    config = metered_config(tmp_path, redis={"url": url, "key_prefix": prefix})
    first = await metered(config)
    second = await metered(config)  # same database, same Redis: another instance of the gateway
    key = (await first.new_key(rate_limit_rpm=4))["key"]
    statuses = []
    for i in range(8):
        gw = first if i % 2 == 0 else second
        response = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
        statuses.append(response.status)
        if response.status == 429:
            assert int(response.headers.get_first(b"retry-after")) >= 1
    assert statuses == [200] * 4 + [429] * 4
    assert first.upstream.calls + second.upstream.calls == 4


@pytest.mark.parametrize("fail_open", [False, True])
async def test_an_unreachable_redis_falls_back_to_local_limits(metered, tmp_path: Path, fail_open: bool) -> None:
    config = metered_config(tmp_path, redis={"url": "redis://127.0.0.1:1/0"}, rate_limit={"fail_open": fail_open})
    gw = await metered(config)
    key = (await gw.new_key(rate_limit_rpm=2))["key"]
    statuses = [(await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status
                for _ in range(3)]
    assert statuses == [200, 200, 429]  # served, and still limited (per instance)
    answer = await gw.client.get("/health")
    health = await answer.json()
    # every Redis store has a local fallback: degraded (200, still in the load balancer), not unhealthy
    assert answer.status == 200 and health["status"] == "degraded"
    assert health["rate_limits"]["degraded"] is True and health["components"]["redis"]["status"] == "degraded"
