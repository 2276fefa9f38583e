"""Sliding-window rate limiting in Redis (the rule of domain/ratelimit.py): one Lua script per
request, atomic on the server, so a limit holds across every worker and instance sharing the
Redis. A bucket is a sorted set of admission times; time is the Redis server's own (`TIME`), so
clocks of different gateway hosts never disagree about a bucket."""

from __future__ import annotations

import math

import redis.asyncio as redis_asyncio

from adapters.memory.rate_limiter import InMemoryRateLimiter
from adapters.redis.circuit import UNREACHABLE, RedisCircuit
from adapters.system_clock import SystemClock
from domain.ports import Clock
from domain.ratelimit import ALLOWED, RateDecision

# KEYS[1] bucket (sorted set of admission times), KEYS[2] its member counter;
# ARGV[1] limit; ARGV[2] period (µs). Returns {allowed, wait µs}.
SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
local count = redis.call('ZCARD', KEYS[1])
if count >= limit then
  local leaving = redis.call('ZRANGE', KEYS[1], count - limit, count - limit, 'WITHSCORES')
  return {0, tonumber(leaving[2]) + period - now}
end
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now, string.format('%d:%d', now, seq))
local ttl = math.ceil(period / 1000) + 1
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return {1, 0}
"""


class RedisRateLimiter:
    """Shared limits while Redis answers. When it does not (down, or too slow for the client's
    socket timeout), each instance limits on its own (`InMemoryRateLimiter`, per instance: N
    instances admit up to N × the limit) until the circuit (shared with the other Redis stores)
    finds Redis answering again; `status()` says which applies. Requests are never refused
    because Redis is unreachable."""

    def __init__(self, client: redis_asyncio.Redis, key_prefix: str = "adaptive-proxy:",
                 clock: Clock | None = None, retry_after_s: float = 1.0,
                 circuit: RedisCircuit | None = None) -> None:
        self._client = client
        self._prefix = f"{key_prefix}rl:"
        self._script = client.register_script(SLIDING_WINDOW_LUA)
        clock = clock or SystemClock()
        self.circuit = circuit or RedisCircuit(clock, client.ping, retry_after_s)
        self._local = InMemoryRateLimiter(clock=clock)

    def status(self) -> dict[str, object]:
        if not self.circuit.degraded:
            return {"store": "redis", "degraded": False}
        return {"store": "local per instance (degraded)", "degraded": True,
                "reason": f"redis unreachable: {self.circuit.last_error}"}

    async def acquire(self, key: str, limit: int, period_s: float = 60.0) -> RateDecision:
        if limit <= 0:
            raise ValueError("a rate limit must be positive")
        if not self.circuit.usable():
            return await self._local.acquire(key, limit, period_s)
        period = int(period_s * 1_000_000)
        bucket = self._prefix + key
        try:
            allowed, wait_us = await self._script(keys=[bucket, bucket + ":seq"], args=[limit, period])
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            return await self._local.acquire(key, limit, period_s)
        if int(allowed):
            return ALLOWED
        return RateDecision(False, math.ceil(int(wait_us) / 1000) / 1000)
