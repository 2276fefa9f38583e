"""Breaker state in Redis, shared by every gateway instance.

Each transition is one Lua script (atomic on the server) applying the same rules as
`domain.breaker`. Keys expire, so a crashed instance leaves nothing stuck. When Redis cannot be
reached the store keeps working on local state, says so in `status()`, and goes back to Redis
once the shared circuit's probe finds it answering.
"""

from __future__ import annotations

import redis.asyncio as redis_asyncio

from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.redis.circuit import UNREACHABLE, RedisCircuit
from adapters.system_clock import SystemClock
from domain.breaker import BreakerPolicy, BreakerSnapshot
from domain.ports import Clock

_READ = """
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'successes', 'probes', 'changed_at')
local state = h[1] or 'closed'
return {state, tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0, h[5] or '0'}
"""

_ADMIT = """
local now, timeout, max_probes, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local h = redis.call('HMGET', KEYS[1], 'state', 'probes', 'changed_at')
local state = h[1] or 'closed'
if state == 'closed' then return 1 end
local changed = tonumber(h[3]) or 0
if state == 'open' then
  if now - changed < timeout then return 0 end
  redis.call('HSET', KEYS[1], 'state', 'half_open', 'failures', 0, 'successes', 0, 'probes', 1,
             'changed_at', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
local probes = tonumber(h[2]) or 0
if now - changed >= timeout then probes = 0 end
if probes >= max_probes then return 0 end
if probes == 0 then redis.call('HSET', KEYS[1], 'changed_at', ARGV[1]) end
redis.call('HSET', KEYS[1], 'probes', probes + 1)
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
"""

_RECORD = """
local success, now = ARGV[1] == '1', ARGV[2]
local failure_threshold, success_threshold, ttl = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local h = redis.call('HMGET', KEYS[1], 'state', 'failures', 'successes', 'probes', 'changed_at')
local state = h[1] or 'closed'
local failures, successes, probes = tonumber(h[2]) or 0, tonumber(h[3]) or 0, tonumber(h[4]) or 0
local changed = h[5] or '0'
if state == 'closed' then
  if success then
    if failures > 0 then redis.call('HSET', KEYS[1], 'failures', 0) end
    return {'closed', 0, 0, 0, changed}
  end
  failures = failures + 1
  if failures >= failure_threshold then
    redis.call('HSET', KEYS[1], 'state', 'open', 'failures', failures, 'successes', 0, 'probes', 0,
               'changed_at', now)
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {'open', failures, 0, 0, now}
  end
  redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', failures, 'changed_at', changed)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'closed', failures, 0, 0, changed}
end
if state == 'open' then
  return {'open', failures, successes, probes, changed}
end
if success then
  successes = successes + 1
  if successes >= success_threshold then
    redis.call('HSET', KEYS[1], 'state', 'closed', 'failures', 0, 'successes', 0, 'probes', 0, 'changed_at', now)
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {'closed', 0, 0, 0, now}
  end
  probes = math.max(0, probes - 1)
  redis.call('HSET', KEYS[1], 'successes', successes, 'probes', probes)
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {'half_open', failures, successes, probes, changed}
end
redis.call('HSET', KEYS[1], 'state', 'open', 'successes', 0, 'probes', 0, 'changed_at', now)
redis.call('PEXPIRE', KEYS[1], ttl)
return {'open', failures, 0, 0, now}
"""


def _snapshot(raw: list[object]) -> BreakerSnapshot:
    def text(value: object) -> str:
        return value.decode() if isinstance(value, bytes) else str(value)

    state = text(raw[0])
    return BreakerSnapshot(state=state if state in ("open", "half_open") else "closed",  # type: ignore[arg-type]
                           failures=int(text(raw[1])), successes=int(text(raw[2])), probes=int(text(raw[3])),
                           changed_at=float(text(raw[4])))


class RedisBreakerStore:
    """Shared breakers while Redis answers; this instance's own (`InMemoryBreakerStore`) while the
    circuit it shares with the other Redis stores is open."""

    def __init__(self, client: redis_asyncio.Redis, prefix: str = "adaptive-proxy:",
                 retry_after_s: float = 1.0, *, clock: Clock | None = None,
                 circuit: RedisCircuit | None = None) -> None:
        self._redis = client
        self._prefix = f"{prefix}breaker:"
        self._admit = client.register_script(_ADMIT)
        self._record = client.register_script(_RECORD)
        self._read = client.register_script(_READ)
        self._local = InMemoryBreakerStore()
        self.circuit = circuit or RedisCircuit(clock or SystemClock(), client.ping, retry_after_s)
        self._known: set[str] = set()

    def _ttl_ms(self, policy: BreakerPolicy) -> int:
        return int((policy.open_timeout_s * 4 + 60) * 1000)

    async def admit(self, key: str, policy: BreakerPolicy, now: float) -> bool:
        self._known.add(key)
        if self.circuit.usable():
            try:
                args = [now, policy.open_timeout_s, policy.half_open_max_probes, self._ttl_ms(policy)]
                return bool(await self._admit(keys=[self._prefix + key], args=args))
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
        return self._local.admit_now(key, policy, now)

    async def record(self, key: str, success: bool, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
        self._known.add(key)
        if self.circuit.usable():
            try:
                args = ["1" if success else "0", repr(now), policy.failure_threshold, policy.success_threshold,
                        self._ttl_ms(policy)]
                return _snapshot(await self._record(keys=[self._prefix + key], args=args))
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
        return self._local.record_now(key, success, policy, now)

    async def snapshot(self, key: str) -> BreakerSnapshot:
        if self.circuit.usable():
            try:
                return _snapshot(await self._read(keys=[self._prefix + key]))
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
        return await self._local.snapshot(key)

    async def snapshots(self) -> dict[str, BreakerSnapshot]:
        if self.circuit.usable():
            try:
                return {key: _snapshot(await self._read(keys=[self._prefix + key])) for key in sorted(self._known)}
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
        return await self._local.snapshots()

    def status(self) -> dict[str, object]:
        if not self.circuit.degraded:
            return {"store": "redis", "degraded": False}
        return {"store": "local (degraded)", "degraded": True,
                "reason": f"redis unreachable: {self.circuit.last_error}"}
