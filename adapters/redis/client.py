"""The shared Redis client (one per process) and its circuit, or None when no redis.url is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from adapters.redis.circuit import RedisCircuit
from domain.ports import Clock


def redis_client(url: str, timeout_s: float = 0.25,
                 connect_timeout_s: float | None = None) -> redis_asyncio.Redis | None:
    """Short timeouts and no client-side retries: a frozen or dead Redis must cost one short
    timeout and then the stores' local fallback (their shared circuit skips Redis until it
    answers again), not stall requests."""
    if not url:
        return None
    connect = timeout_s if connect_timeout_s is None else connect_timeout_s
    return redis_asyncio.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=connect,
                                        retry=Retry(NoBackoff(), 0), health_check_interval=30)


def redis_circuit(client: redis_asyncio.Redis | None, clock: Clock,
                  retry_after_s: float = 1.0) -> RedisCircuit | None:
    """The one circuit every Redis-backed store of `client` shares."""
    if client is None:
        return None
    return RedisCircuit(clock, client.ping, retry_after_s)


async def close_redis(client: redis_asyncio.Redis | None, circuit: RedisCircuit | None = None) -> None:
    if circuit is not None:
        await circuit.settle()
    if client is not None:
        await client.aclose()


def redis_probe(circuit: RedisCircuit) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The `redis` component of /health. While the circuit is closed, a PING (a failure opens it,
    so /health itself can notice a frozen Redis first); while it is open, no Redis call at all.
    Either way it reports: every store has a local fallback, so an unreachable Redis makes the
    gateway degraded (200), not unhealthy."""

    async def probe() -> dict[str, Any]:
        if circuit.usable():
            await circuit.probe()
        return circuit.status()

    return probe
