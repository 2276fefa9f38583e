"""A gateway on a real Redis that freezes (`CLIENT PAUSE ... ALL`) or dies under requests: every
Redis-backed store (rate limits, breakers, routing and response caches, stored responses) shares
one circuit, so the first request that meets the frozen Redis pays one short timeout and every
request after it is served from local state at once; `/health` says degraded (200) meanwhile;
once Redis answers, a background PING brings every store back to the shared state.

Each pause lasts at most 3 s and is always lifted in `finally`: other tests share this Redis."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from blacksheep.contents import JSONContent
from sqlalchemy.engine import make_url

from tests.http import metered as harness
from tests.http.metered import Metered, bearer, metered_config
from tests.integration.test_store_outage_postgres import Forwarder

metered = harness.metered  # the shared fixture

pytestmark = pytest.mark.integration

PAUSE_MS = 3000
SLOW_S = 0.3  # a request slower than this paid a Redis timeout


def routed(n: int) -> JSONContent:
    """A routed request (routing cache), cacheable (response cache), its own prompt each time."""
    return JSONContent({"model": "", "messages": [{"role": "user", "content": f"question {n}"}], "temperature": 0})


def config(tmp_path: Path, url: str, prefix: str) -> dict[str, Any]:
    return metered_config(tmp_path, redis={"url": url, "key_prefix": prefix},
                          prompt_cache={"enabled": True})


async def timed(gw: Metered, key: str, n: int) -> tuple[int, float]:
    started = time.perf_counter()
    response = await gw.client.post("/v1/chat/completions", content=routed(n), headers=bearer(key))
    return response.status, time.perf_counter() - started


async def health(gw: Metered) -> tuple[int, dict[str, Any]]:
    answer = await gw.client.get("/health")
    return answer.status, await answer.json()


async def healthy_within(gw: Metered, seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        _, report = await health(gw)
        if report["status"] == "healthy" or time.monotonic() > deadline:
            return report
        await asyncio.sleep(0.1)


async def shared_counts(admin: redis_asyncio.Redis, prefix: str) -> tuple[int, int]:
    """Admissions in the shared rate-limit buckets, entries in the shared response cache."""
    admitted = 0
    async for bucket in admin.scan_iter(match=f"{prefix}rl:*"):
        if not bucket.endswith(b":seq"):
            admitted += await admin.zcard(bucket)
    return admitted, await admin.zcard(f"{prefix}rc:lru")


@pytest.fixture
async def admin(redis_server_url: str) -> AsyncIterator[redis_asyncio.Redis]:
    client = redis_asyncio.Redis.from_url(redis_server_url)
    yield client
    await client.execute_command("CLIENT", "UNPAUSE")  # whatever happened
    await client.aclose()


async def test_a_frozen_redis_costs_one_short_timeout_then_every_store_is_local(
        metered, tmp_path: Path, redis_url: tuple[str, str], admin: redis_asyncio.Redis) -> None:
    url, prefix = redis_url
    gw = await metered(config(tmp_path, url, prefix))
    key = (await gw.new_key(rate_limit_rpm=10_000))["key"]
    for n in range(3):
        assert (await timed(gw, key, n))[0] == 200
    assert (await health(gw))[1]["status"] == "healthy"
    before = await shared_counts(admin, prefix)
    assert before[0] == 3 and before[1] == 3

    latencies: list[float] = []
    await admin.execute_command("CLIENT", "PAUSE", PAUSE_MS, "ALL")
    paused = time.monotonic()
    try:
        n = 100
        while time.monotonic() - paused < PAUSE_MS / 1000 - 0.5:  # stop well before the pause ends
            status, seconds = await timed(gw, key, n)
            assert status == 200
            latencies.append(seconds)
            n += 1
            await asyncio.sleep(0.01)  # bounded load: about 100 requests a second
        status, report = await health(gw)
        assert time.monotonic() - paused < PAUSE_MS / 1000, "the checks must run while Redis is paused"
    finally:
        await admin.execute_command("CLIENT", "UNPAUSE")
    assert status == 200 and report["status"] == "degraded"
    assert report["components"]["redis"]["status"] == "degraded"
    assert report["components"]["redis"]["reason"] == "redis unreachable: TimeoutError"
    assert report["rate_limits"]["degraded"] and report["breakers"]["degraded"]
    assert report["routing"]["cache"]["store"].startswith("local (degraded")
    slow = [s for s in latencies if s > SLOW_S]
    assert len(latencies) >= 10 and len(slow) <= 1, (len(slow), max(latencies))
    assert max(latencies) < 1.0  # the one slow request paid one 0.25 s timeout, not one per store

    report = await healthy_within(gw, 3.0)  # the background PING (every 1 s) finds Redis again
    assert report["status"] == "healthy" and report["components"]["redis"] == {"status": "up", "mode": "redis"}
    assert (await timed(gw, key, 9999))[0] == 200
    after = await shared_counts(admin, prefix)
    assert after == (before[0] + 1, before[1] + 1)  # the outage's requests stayed local; shared again now


async def test_a_dead_redis_is_local_at_once_and_shared_again_when_it_comes_back(
        metered, tmp_path: Path, redis_url: tuple[str, str], admin: redis_asyncio.Redis) -> None:
    url, prefix = redis_url
    target = make_url(url.replace("redis://", "postgresql://", 1))  # only to parse host and port
    with socket.socket() as probe:  # a closed port: Redis is dead
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gw = await metered(config(tmp_path, f"redis://127.0.0.1:{port}/{target.database or 0}", prefix))
    forward = Forwarder(target.host or "127.0.0.1", target.port or 6379)
    forward.port = port
    try:
        key = (await gw.new_key(rate_limit_rpm=10_000))["key"]
        latencies = []
        for n in range(30):
            status, seconds = await timed(gw, key, n)
            assert status == 200
            latencies.append(seconds)
        assert max(latencies) < 1.0 and sorted(latencies)[-2] < SLOW_S
        status, report = await health(gw)
        assert status == 200 and report["status"] == "degraded"
        assert report["components"]["redis"]["reason"] == "redis unreachable: ConnectionError"
        assert await shared_counts(admin, prefix) == (0, 0)

        await forward.start()  # Redis is back
        report = await healthy_within(gw, 3.0)
        assert report["status"] == "healthy"
        assert (await timed(gw, key, 1000))[0] == 200
        assert await shared_counts(admin, prefix) == (1, 1)
    finally:
        with contextlib.suppress(AssertionError):  # not started
            await forward.cut()
