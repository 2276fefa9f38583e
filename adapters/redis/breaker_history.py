"""Breaker transitions shared by every instance: a Redis list (`<prefix>breaker-transitions`)
trimmed to about the history's size, written by a background task when a transition happens (the
request does not wait for it), read by the dashboard. Two instances seeing the same
transition (same breaker, state and time) show it once. Redis down: this instance's own history."""

from __future__ import annotations

import asyncio
import logging

import orjson
import redis.asyncio as redis_asyncio
from redis.exceptions import RedisError

from application.breaker_history import BreakerHistory, Transition, from_dict

log = logging.getLogger(__name__)
TTL_S = 7 * 24 * 3600


class RedisBreakerHistory:
    def __init__(self, client: redis_asyncio.Redis, prefix: str, local: BreakerHistory) -> None:
        self._client = client
        self._key = f"{prefix}breaker-transitions"
        self._local = local
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, transition: Transition) -> None:
        self._local.add(transition)
        task = asyncio.get_running_loop().create_task(self._push(transition))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _push(self, transition: Transition) -> None:
        try:
            pipe = self._client.pipeline(transaction=True)
            pipe.lpush(self._key, orjson.dumps(transition.as_dict()))
            pipe.ltrim(self._key, 0, self._local.size * 2 - 1)  # room for duplicates from other instances
            pipe.expire(self._key, TTL_S)
            await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("breaker transition not shared: %s", exc)

    async def recent(self) -> list[Transition]:
        try:
            raw = await self._client.lrange(self._key, 0, self._local.size * 2 - 1)
        except (RedisError, OSError):
            return self._local.newest()
        seen: set[tuple[str, str, float]] = set()
        found: list[Transition] = []
        for item in raw:
            t = from_dict(orjson.loads(item))
            if (t.key, t.to_state, t.at) not in seen:
                seen.add((t.key, t.to_state, t.at))
                found.append(t)
        found.sort(key=lambda t: t.at, reverse=True)
        return found[: self._local.size]
