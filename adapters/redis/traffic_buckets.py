"""Per-minute traffic buckets in Redis: one hash per minute (`<prefix>traffic:<minute>`), one
field per instance holding that instance's bucket as JSON; every key expires after the
dashboard's history (so the data is bounded by minutes x instances)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import redis.asyncio as redis_asyncio

from adapters.redis.circuit import UNREACHABLE, RedisCircuit
from adapters.system_clock import SystemClock
from application.traffic_stats import Bucket
from domain.ports import Clock


class RedisTrafficBuckets:
    """While the circuit (shared with the other Redis stores) is open, `save` and `load` raise
    `CircuitOpen` at once, without a Redis call: `SharedTraffic` then keeps the minutes for later
    and answers from this instance's own ring."""

    def __init__(self, client: redis_asyncio.Redis, prefix: str, circuit: RedisCircuit | None = None,
                 clock: Clock | None = None) -> None:
        self._client = client
        self._prefix = f"{prefix}traffic:"
        self.circuit = circuit or RedisCircuit(clock or SystemClock(), client.ping)

    async def save(self, instance: str, buckets: Sequence[Bucket], ttl_s: int) -> None:
        self.circuit.check()
        pipe = self._client.pipeline(transaction=False)
        for bucket in buckets:
            key = f"{self._prefix}{bucket.minute}"
            pipe.hset(key, instance, orjson.dumps(bucket.to_dict()))
            pipe.expire(key, ttl_s)
        await self._run(pipe)

    async def load(self, minutes: Sequence[int]) -> dict[int, list[Bucket]]:
        wanted = list(minutes)
        self.circuit.check()
        pipe = self._client.pipeline(transaction=False)
        for minute in wanted:
            pipe.hvals(f"{self._prefix}{minute}")
        found: dict[int, list[Bucket]] = {}
        for minute, values in zip(wanted, await self._run(pipe), strict=True):
            if values:
                found[minute] = [Bucket.from_dict(orjson.loads(v)) for v in values]
        return found

    async def _run(self, pipe: Any) -> list[Any]:
        try:
            return list(await pipe.execute())
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            raise
