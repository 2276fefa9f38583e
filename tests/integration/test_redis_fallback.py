"""The Redis rate limiter when Redis is down, frozen, and back: local limits at once, a single
timeout (not one per request), and shared limits again once the circuit's background PING finds
Redis answering."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis_asyncio
from sqlalchemy.engine import make_url

from adapters.redis.client import redis_client
from adapters.redis.rate_limiter import RedisRateLimiter
from tests.clock import FrozenClock
from tests.integration.test_store_outage_postgres import Forwarder

pytestmark = pytest.mark.integration


@pytest.fixture
async def frozen_port() -> AsyncIterator[int]:
    """A TCP server that accepts connections and never answers (a frozen Redis)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.transport.abort()
    server.close()


async def test_a_frozen_redis_costs_one_timeout_then_local_limits(frozen_port: int) -> None:
    client = redis_client(f"redis://127.0.0.1:{frozen_port}/0", timeout_s=0.2)
    assert client is not None
    clock = FrozenClock()
    limiter = RedisRateLimiter(client, "t:", clock=clock, retry_after_s=5)
    try:
        started = time.monotonic()
        first = await limiter.acquire("k", 3)
        assert first.allowed and time.monotonic() - started < 1.0
        assert limiter.status()["degraded"] is True
        started = time.monotonic()
        rest = [(await limiter.acquire("k", 3)).allowed for _ in range(50)]
        assert time.monotonic() - started < 0.2  # local state: no Redis round trip per request
        assert rest[:2] == [True, True] and not any(rest[2:])  # the limit still holds, per instance
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
    limiter = RedisRateLimiter(client, prefix, clock=clock, retry_after_s=5)
    forward = Forwarder(target.host or "127.0.0.1", target.port or 6379)
    forward.port = port
    try:
        assert (await limiter.acquire("k", 5)).allowed  # nothing listens: local
        assert limiter.status()["degraded"] is True
        await forward.start()  # Redis is reachable again
        assert (await limiter.acquire("k", 5)).allowed  # still within the retry pause: local
        assert limiter.status()["degraded"] is True
        clock.t += 5
        assert (await limiter.acquire("k", 5)).allowed  # still local: a background PING is sent
        await limiter.circuit.settle()  # it answered
        assert limiter.status() == {"store": "redis", "degraded": False}
        assert (await limiter.acquire("k", 5)).allowed
        real = redis_asyncio.Redis.from_url(url)
        try:
            assert await real.zcard(f"{prefix}rl:k") == 1  # the shared bucket has the request
        finally:
            await real.aclose()
    finally:
        await client.aclose()
        await forward.cut()
