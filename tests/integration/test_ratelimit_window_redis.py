"""The Redis limiter keeps the sliding-window promise: at most R in any 60 s (GCRA admitted 2R - 1
in the first minute), with a Retry-After that is exactly the wait for the oldest admission."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as redis_asyncio

from adapters.redis.rate_limiter import RedisRateLimiter

pytestmark = pytest.mark.integration


async def test_twenty_per_minute_admits_twenty_and_says_when_the_first_leaves(redis_url: tuple[str, str]) -> None:
    url, prefix = redis_url
    client = redis_asyncio.Redis.from_url(url)
    try:
        limiter = RedisRateLimiter(client, prefix)
        started = time.monotonic()
        decisions = [await limiter.acquire("key:20", 20) for _ in range(39)]
        elapsed = time.monotonic() - started
        assert [d.allowed for d in decisions] == [True] * 20 + [False] * 19
        for refused in decisions[20:]:
            assert 60 - elapsed - 0.01 <= refused.retry_after <= 60
        assert await client.zcard(f"{prefix}rl:key:20") == 20  # refusals are not remembered
        assert 0 < await client.pttl(f"{prefix}rl:key:20") <= 60_001
    finally:
        await client.aclose()


async def test_a_short_window_refills_exactly_when_its_times_leave(redis_url: tuple[str, str]) -> None:
    url, prefix = redis_url
    client = redis_asyncio.Redis.from_url(url)
    try:
        limiter = RedisRateLimiter(client, prefix)
        assert [(await limiter.acquire("w", 2, period_s=0.2)).allowed for _ in range(3)] == [True, True, False]
        refused = await limiter.acquire("w", 2, period_s=0.2)
        assert 0 < refused.retry_after <= 0.2
        await asyncio.sleep(refused.retry_after + 0.005)  # Redis keeps its own time: a real 0.2 s
        assert (await limiter.acquire("w", 2, period_s=0.2)).allowed
    finally:
        await client.aclose()

