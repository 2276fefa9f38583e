"""Breaker transitions shared by every instance: a Redis list (`<prefix>breaker-transitions`)
trimmed to about the history's size, written by a background task when a transition happens (the
request does not wait for it), read by the dashboard. Two instances seeing the same
transition (same breaker, state and time) show it once. Redis down (the circuit shared by every
Redis store is open): this instance's own history, and transitions are kept locally only."""

from __future__ import annotations

import asyncio
import logging

import orjson
import redis.asyncio as redis_asyncio

from adapters.redis.circuit import UNREACHABLE, RedisCircuit
from adapters.system_clock import SystemClock
from application.breaker_history import BreakerHistory, Transition, from_dict
from domain.ports import Clock

log = logging.getLogger(__name__)
TTL_S = 7 * 24 * 3600


class RedisBreakerHistory:
    def __init__(self, client: redis_asyncio.Redis, prefix: str, local: BreakerHistory,
                 circuit: RedisCircuit | None = None, clock: Clock | None = None) -> None:
        self._client = client
        self._key = f"{prefix}breaker-transitions"
        self._local = local
        self.circuit = circuit or RedisCircuit(clock or SystemClock(), client.ping)
        self._tasks: set[asyncio.Task[None]] = set()

    def add(self, transition: Transition) -> None:
        self._local.add(transition)
        if not self.circuit.usable():  # a transition during an outage is not shared later
            return
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
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            log.warning("breaker transition not shared: %s", type(exc).__name__)

    async def recent(self) -> list[Transition]:
        if not self.circuit.usable():
            return self._local.newest()
        try:
            raw = await self._client.lrange(self._key, 0, self._local.size * 2 - 1)
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
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
