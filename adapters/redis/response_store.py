"""Stored Responses API answers in Redis, shared by every gateway instance (see `ResponseStore`).

Keys under the configured prefix:
  rs:e:<id>   the document (JSON), expiring after the TTL (Redis keeps the time)
  rs:order    sorted set id -> insertion time (ms): the size bound drops the oldest first
A write (SET + index + trim) is one Lua script, so atomic and one round trip.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import redis.asyncio as redis_asyncio

from adapters.memory.response_store import InMemoryResponseStore
from adapters.redis.circuit import UNREACHABLE, RedisCircuit
from domain.ports import Clock

_PUT = """
local now, max_entries = tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[5])
redis.call('ZADD', KEYS[2], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
local excess = redis.call('ZCARD', KEYS[2]) - max_entries
if excess > 0 then
  local victims = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #victims, 2 do redis.call('DEL', ARGV[6] .. victims[i]) end
end
return 1
"""


class RedisResponseStore:
    """Conversations in Redis, shared by every instance. When Redis fails or freezes, this
    instance keeps them in a local store instead (the circuit it shares with the other Redis
    stores skips Redis after a failure, so a frozen Redis costs one timeout, not one per request)
    and goes back to Redis once it answers; what was kept locally meanwhile stays readable here."""

    def __init__(self, client: redis_asyncio.Redis, clock: Clock, *, prefix: str = "",
                 ttl_s: float = 86_400, max_entries: int = 100_000, retry_after_s: float = 1.0,
                 local_max_entries: int = 10_000, circuit: RedisCircuit | None = None) -> None:
        self._client = client
        self._clock = clock
        self._entry = f"{prefix}rs:e:"
        self._order = f"{prefix}rs:order"
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._max = max_entries
        self._put = client.register_script(_PUT)
        self.circuit = circuit or RedisCircuit(clock, client.ping, retry_after_s)
        self._local = InMemoryResponseStore(clock, ttl_s=ttl_s, max_entries=local_max_entries)

    def status(self) -> dict[str, object]:
        if not self.circuit.degraded:
            return {"store": "redis", "degraded": False}
        return {"store": "local", "degraded": True, "reason": f"redis unreachable: {self.circuit.last_error}"}

    async def put(self, response_id: str, document: Mapping[str, Any]) -> None:
        if self.circuit.usable():
            now_ms = int(self._clock.now() * 1000)
            try:
                await self._put(keys=[self._entry + response_id, self._order],
                                args=[response_id, orjson.dumps(dict(document)), now_ms, self._max, self._ttl_ms,
                                      self._entry])
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
            else:
                return
        await self._local.put(response_id, document)

    async def get(self, response_id: str) -> dict[str, Any] | None:
        if self.circuit.usable():
            try:
                raw = await self._client.get(self._entry + response_id)
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
            else:
                if raw is not None:
                    document: dict[str, Any] = orjson.loads(raw)
                    return document
        return await self._local.get(response_id)

    async def delete(self, response_id: str) -> bool:
        deleted = await self._local.delete(response_id)
        if self.circuit.usable():
            try:
                async with self._client.pipeline(transaction=True) as pipe:
                    pipe.delete(self._entry + response_id)
                    pipe.zrem(self._order, response_id)
                    removed, _ = await pipe.execute()
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
            else:
                deleted = deleted or bool(removed)
        return deleted
