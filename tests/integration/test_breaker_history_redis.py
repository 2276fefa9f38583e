"""Breaker transitions shared through real Redis: two instances' histories read as one, duplicates
shown once, bounded; Redis down: the instance's own history."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis_asyncio

from adapters.redis.breaker_history import RedisBreakerHistory
from application.breaker_history import BreakerHistory, Transition


async def _settle(*histories: RedisBreakerHistory) -> None:
    for history in histories:
        await asyncio.gather(*list(history._tasks))


async def test_two_instances_share_their_transitions(redis_url: tuple[str, str]) -> None:
    url, prefix = redis_url
    client = redis_asyncio.Redis.from_url(url)
    try:
        a = RedisBreakerHistory(client, prefix, BreakerHistory(size=3))
        b = RedisBreakerHistory(client, prefix, BreakerHistory(size=3))
        a.add(Transition("p", "closed", "open", 10.0, 2))
        b.add(Transition("p", "closed", "open", 10.0, 2))  # the same transition, seen by both
        b.add(Transition("q", "closed", "open", 11.0, 2))
        await _settle(a, b)
        assert [(t.key, t.at) for t in await a.recent()] == [("q", 11.0), ("p", 10.0)]
        for i in range(5):
            a.add(Transition("r", "closed", "open", 20.0 + i, 2))
        await _settle(a)
        assert [t.at for t in await b.recent()] == [24.0, 23.0, 22.0]  # bounded to the size
        assert await client.llen(f"{prefix}breaker-transitions") <= 6
    finally:
        await client.aclose()


async def test_redis_down_shows_this_instances_history() -> None:
    client = redis_asyncio.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        history = RedisBreakerHistory(client, "x:", BreakerHistory(size=3))
        history.add(Transition("p", "closed", "open", 10.0, 2))
        await _settle(history)  # the copy fails quietly
        assert [t.key for t in await history.recent()] == ["p"]
    finally:
        await client.aclose()
