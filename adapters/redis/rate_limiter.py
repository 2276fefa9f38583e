"""GCRA rate limiting in Redis: one Lua script per request, atomic on the server, so a limit
holds across every worker and instance sharing the Redis. Time is the Redis server's own
(`TIME`), so clocks of different gateway hosts never disagree about a bucket."""

from __future__ import annotations

import math

import redis.asyncio as redis_asyncio

from domain.ratelimit import ALLOWED, RateDecision

# KEYS[1] bucket; ARGV[1] emission interval (µs); ARGV[2] period (µs). Returns {allowed, wait µs}.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if now < allow_at then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, 0}
"""


class RedisRateLimiter:
    def __init__(self, client: redis_asyncio.Redis, key_prefix: str = "adaptive-proxy:") -> None:
        self._client = client
        self._prefix = f"{key_prefix}rl:"
        self._script = client.register_script(GCRA_LUA)

    async def acquire(self, key: str, limit: int, period_s: float = 60.0) -> RateDecision:
        if limit <= 0:
            raise ValueError("a rate limit must be positive")
        period = int(period_s * 1_000_000)
        interval = max(1, period // limit)
        allowed, wait_us = await self._script(keys=[self._prefix + key], args=[interval, period])
        if int(allowed):
            return ALLOWED
        return RateDecision(False, math.ceil(int(wait_us) / 1000) / 1000)
