"""Per-minute traffic buckets in Redis: one hash per minute (`<prefix>traffic:<minute>`), one
field per instance holding that instance's bucket as JSON; every key expires after the
dashboard's history (so the data is bounded by minutes x instances)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import redis.asyncio as redis_asyncio

from application.traffic_stats import Bucket


class RedisTrafficBuckets:
    def __init__(self, client: redis_asyncio.Redis, prefix: str) -> None:
        self._client = client
        self._prefix = f"{prefix}traffic:"

    async def save(self, instance: str, buckets: Sequence[Bucket], ttl_s: int) -> None:
        pipe = self._client.pipeline(transaction=False)
        for bucket in buckets:
            key = f"{self._prefix}{bucket.minute}"
            pipe.hset(key, instance, orjson.dumps(bucket.to_dict()))
            pipe.expire(key, ttl_s)
        await pipe.execute()

    async def load(self, minutes: Sequence[int]) -> dict[int, list[Bucket]]:
        wanted = list(minutes)
        pipe = self._client.pipeline(transaction=False)
        for minute in wanted:
            pipe.hvals(f"{self._prefix}{minute}")
        found: dict[int, list[Bucket]] = {}
        for minute, values in zip(wanted, await pipe.execute(), strict=True):
            if values:
                found[minute] = [Bucket.from_dict(orjson.loads(v)) for v in values]
        return found
