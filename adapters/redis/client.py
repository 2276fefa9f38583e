"""The shared Redis connection pool (one per process), or None when no redis.url is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis_asyncio


def redis_client(url: str) -> redis_asyncio.Redis | None:
    if not url:
        return None
    # Short timeouts: a Redis outage must degrade the gateway, not stall every request.
    return redis_asyncio.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5,
                                        health_check_interval=30)


async def close_redis(client: redis_asyncio.Redis | None) -> None:
    if client is not None:
        await client.aclose()


def redis_probe(client: redis_asyncio.Redis) -> Callable[[], Awaitable[dict[str, Any]]]:
    async def probe() -> dict[str, Any]:
        await client.ping()
        return {"mode": "redis"}

    return probe
