"""The shared Redis connection pool (one per process), or None when no redis.url is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis_asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff


def redis_client(url: str, timeout_s: float = 0.25) -> redis_asyncio.Redis | None:
    """Short timeouts and no client-side retries: a Redis outage must cost one short timeout and
    then the stores' local fallback (their circuit skips Redis for a while), not stall requests."""
    if not url:
        return None
    return redis_asyncio.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
                                        retry=Retry(NoBackoff(), 0), health_check_interval=30)


async def close_redis(client: redis_asyncio.Redis | None) -> None:
    if client is not None:
        await client.aclose()


def redis_probe(client: redis_asyncio.Redis) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def probe() -> dict[str, Any]:
        await client.ping()
        return {"mode": "redis"}

    return probe
