"""The prompt-response and routing-decision caches in Redis, shared by every gateway instance.

One store shape, two namespaces: `rc` holds chat responses, `rt` routing decisions; each entry
type brings its codec. Keys (under the configured prefix, `ns` being the namespace):
  ns:e:<key>     the entry (JSON), expiring after its TTL
  ns:lru         sorted set key -> last use (ms, with a sequence in the fraction so uses within one
                 millisecond keep their order): the size bound evicts the least recently used
  ns:lru:seq     that sequence
  ns:v:<bucket>  list of the `per_bucket` most recent (key, float16 unit vector) of a semantic
                 bucket, newest first, expiring with its newest entry

A write (SET + index + trim + eviction) and a read (GET + touch) are each one Lua script, so one
round trip and atomic. Evicted entry keys are derived inside the script from the prefix: this
targets a standalone or replicated Redis (for Cluster, put a hash tag in the prefix).
A semantic lookup reads one bucket list (LRANGE, at most per_bucket x dims x 2 bytes), scores it
here, and reads the best entry: O(per_bucket x dims), independent of the number of entries.
When Redis cannot be reached (the circuit shared by every Redis store is open), a bounded local
cache of this instance serves and takes the writes until Redis answers again.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

import orjson
import redis.asyncio as redis_asyncio

from adapters.memory.keyed_cache import InMemoryKeyedCache
from adapters.redis.circuit import UNREACHABLE, RedisCircuit
from adapters.system_clock import SystemClock
from domain.cache_key import CachedResponse, best_match, normalized
from domain.chat import ChatResponse, FinishReason, Part, TextPart, ThinkingPart, ToolCall, Usage
from domain.ports import Clock
from domain.route_cache import CachedRoute

log = logging.getLogger(__name__)
KEY_CHARS = 64  # exact keys are hex SHA-256
E = TypeVar("E")

# LRU scores are milliseconds plus a per-store sequence in the fraction (.000 to .999), so uses
# within one millisecond keep their order (up to 1,000 per millisecond).
_STAMP = """
local function stamp(now)
  return now + (redis.call('INCR', KEYS[2] .. ':seq') % 1000) / 1000
end
"""

_GET = _STAMP + """
local value = redis.call('GET', KEYS[1])
if value then redis.call('ZADD', KEYS[2], 'XX', stamp(tonumber(ARGV[1])), ARGV[2]) end
return value
"""

_PUT = _STAMP + """
local key, now, max_entries = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[5])
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[4])
redis.call('ZADD', KEYS[2], stamp(now), key)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[6]))
local excess = redis.call('ZCARD', KEYS[2]) - max_entries
if excess > 0 then
  local victims = redis.call('ZPOPMIN', KEYS[2], excess)
  for i = 1, #victims, 2 do redis.call('DEL', ARGV[7] .. victims[i]) end
end
if KEYS[3] then
  redis.call('LPUSH', KEYS[3], ARGV[8])
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[9]) - 1)
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
return 1
"""


def _part(raw: dict[str, Any]) -> Part:
    if raw.get("type") == "thinking":
        return ThinkingPart(text=raw.get("text", ""), signature=raw.get("signature"), signed_by=raw.get("signed_by"))
    return TextPart(text=raw.get("text", ""))


def encode_entry(entry: CachedResponse) -> bytes:
    r = entry.response
    content: list[dict[str, Any]] = []
    for p in r.content:
        if isinstance(p, ThinkingPart):
            content.append({"type": "thinking", "text": p.text, "signature": p.signature, "signed_by": p.signed_by})
        elif isinstance(p, TextPart):
            content.append({"type": "text", "text": p.text})
    u = r.usage
    return orjson.dumps({
        "v": 1, "provider": entry.provider, "model": entry.model, "stored_at": entry.stored_at,
        "extra": entry.extra, "id": r.id, "response_model": r.model, "created": r.created,
        "finish_reason": r.finish_reason, "content": content,
        "tool_calls": [[c.id, c.name, c.arguments] for c in r.tool_calls],
        "usage": [u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_write_tokens, u.reasoning_tokens],
    })


def decode_entry(data: bytes) -> CachedResponse | None:
    try:
        raw = orjson.loads(data)
        finish: FinishReason = raw["finish_reason"]
        response = ChatResponse(
            id=raw["id"], model=raw["response_model"], content=[_part(p) for p in raw["content"]],
            tool_calls=[ToolCall(id=c[0], name=c[1], arguments=c[2]) for c in raw["tool_calls"]],
            finish_reason=finish, usage=Usage(*raw["usage"]), created=raw["created"])
        return CachedResponse(response=response, provider=raw["provider"], model=raw["model"],
                              stored_at=raw["stored_at"], extra=raw.get("extra") or {})
    except (orjson.JSONDecodeError, KeyError, TypeError, IndexError) as exc:
        log.warning("dropping an unreadable response-cache entry: %s", exc)
        return None


def encode_route(entry: CachedRoute) -> bytes:
    return orjson.dumps({"v": 1, "model": entry.model, "alternatives": list(entry.alternatives),
                         "difficulty": entry.difficulty, "decided_by": entry.decided_by, "stored_at": entry.stored_at})


def decode_route(data: bytes) -> CachedRoute | None:
    try:
        raw = orjson.loads(data)
        difficulty = raw["difficulty"]
        return CachedRoute(model=str(raw["model"]), alternatives=tuple(str(a) for a in raw["alternatives"]),
                           difficulty=None if difficulty is None else float(difficulty),
                           decided_by=str(raw["decided_by"]), stored_at=float(raw["stored_at"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        log.warning("dropping an unreadable routing-cache entry: %s", exc)
        return None


def pack_vector(key: str, vector: Sequence[float]) -> bytes:
    unit = normalized(vector)
    return key.encode() + struct.pack(f"<{len(unit)}e", *unit)


def unpack_vector(item: bytes) -> tuple[str, tuple[float, ...]]:
    body = item[KEY_CHARS:]
    return item[:KEY_CHARS].decode(), struct.unpack(f"<{len(body) // 2}e", body)


class RedisKeyedCache(Generic[E]):
    """Entries in Redis, shared by every instance; while the circuit (shared with the other Redis
    stores) is open, a local `InMemoryKeyedCache` of at most `local_max_entries` serves and
    takes the writes instead, for this instance only. Once Redis answers, Redis serves again
    (what was cached locally meanwhile is not copied to Redis)."""

    def __init__(self, client: redis_asyncio.Redis, prefix: str, *, namespace: str, what: str,
                 encode: Callable[[E], bytes], decode: Callable[[bytes], E | None], max_entries: int = 10_000,
                 max_ttl_s: float = 3600, per_bucket: int = 32, retry_after_s: float = 1.0,
                 clock: Clock | None = None, circuit: RedisCircuit | None = None,
                 local_max_entries: int = 10_000) -> None:
        self._redis = client
        self._entry_prefix = f"{prefix}{namespace}:e:"
        self._lru = f"{prefix}{namespace}:lru"
        self._bucket_prefix = f"{prefix}{namespace}:v:"
        self._what = what
        self._encode = encode
        self._decode = decode
        self._max = max_entries
        self._max_ttl_ms = int(max_ttl_s * 1000)
        self._per_bucket = per_bucket
        self._get = client.register_script(_GET)
        self._put = client.register_script(_PUT)
        self._clock = clock or SystemClock()
        self.circuit = circuit or RedisCircuit(self._clock, client.ping, retry_after_s)
        self._local: InMemoryKeyedCache[E] = InMemoryKeyedCache(
            max_entries=min(max_entries, local_max_entries), per_bucket=per_bucket, clock=self._clock)

    async def get(self, key: str) -> E | None:
        if not self.circuit.usable():
            return self._local.get_now(key)
        try:
            data = await self._get(keys=[self._entry_prefix + key, self._lru], args=[self._now_ms(), key])
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            return self._local.get_now(key)
        return self._decode(data) if data else None

    async def put(self, key: str, entry: E, ttl_s: float, *, bucket: str | None = None,
                  vector: Sequence[float] | None = None) -> None:
        if len(key) != KEY_CHARS:
            return
        if not self.circuit.usable():
            await self._local.put(key, entry, ttl_s, bucket=bucket, vector=vector)
            return
        keys = [self._entry_prefix + key, self._lru]
        args: list[Any] = [key, self._encode(entry), self._now_ms(), max(1, int(ttl_s * 1000)), self._max,
                           max(self._max_ttl_ms, int(ttl_s * 1000)), self._entry_prefix]
        if bucket is not None and vector is not None:
            keys.append(self._bucket_prefix + bucket)
            args += [pack_vector(key, vector), self._per_bucket]
        try:
            await self._put(keys=keys, args=args)
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            await self._local.put(key, entry, ttl_s, bucket=bucket, vector=vector)

    async def nearest(self, bucket: str, vector: Sequence[float],
                      threshold: float) -> tuple[E, float] | None:
        if not self.circuit.usable():
            return await self._local.nearest(bucket, vector, threshold)
        try:
            items = await self._redis.lrange(self._bucket_prefix + bucket, 0, self._per_bucket - 1)
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            return await self._local.nearest(bucket, vector, threshold)
        candidates = [unpack_vector(item) for item in items if isinstance(item, bytes) and len(item) > KEY_CHARS]
        for similarity, key in best_match(normalized(vector), candidates, threshold):
            entry = await self.get(key)
            if entry is not None:
                return entry, similarity
        return None

    async def size(self) -> int:
        if self.circuit.usable():
            try:
                return int(await self._redis.zcard(self._lru))
            except UNREACHABLE as exc:
                self.circuit.failed(exc)
        return await self._local.size()

    async def clear(self) -> int:
        """Delete this namespace's entries, LRU index and vector buckets (SCAN + UNLINK in batches,
        so a large cache never blocks Redis), and the local fallback's. Raises when Redis is
        unreachable (even while the circuit is open: an admin's clear is worth one timeout): a
        clear that did not happen must not look done."""
        removed = await self._local.clear()
        try:
            removed += int(await self._redis.zcard(self._lru))
            batch: list[bytes | str] = []
            for pattern in (f"{self._entry_prefix}*", f"{self._bucket_prefix}*"):
                async for key in self._redis.scan_iter(match=pattern, count=500):
                    batch.append(key)
                    if len(batch) >= 500:
                        await self._redis.unlink(*batch)
                        batch.clear()
            batch.append(self._lru)
            await self._redis.unlink(*batch)
        except UNREACHABLE as exc:
            self.circuit.failed(exc)
            raise
        return removed

    def status(self) -> dict[str, object]:
        if not self.circuit.degraded:
            return {"store": "redis"}
        return {"store": f"local (degraded: redis unreachable, this instance's {self._what})",
                "reason": f"redis unreachable: {self.circuit.last_error}"}

    def _now_ms(self) -> int:
        return int(self._clock.now() * 1000)


class RedisResponseCache(RedisKeyedCache[CachedResponse]):
    """Chat responses (ports.ResponseCache), under `rc:`."""

    def __init__(self, client: redis_asyncio.Redis, prefix: str = "adaptive-proxy:", **options: Any) -> None:
        super().__init__(client, prefix, namespace="rc", what="response cache", encode=encode_entry,
                         decode=decode_entry, **options)


class RedisRouteCache(RedisKeyedCache[CachedRoute]):
    """Routing decisions (ports.RouteCache), under `rt:`."""

    def __init__(self, client: redis_asyncio.Redis, prefix: str = "adaptive-proxy:", **options: Any) -> None:
        super().__init__(client, prefix, namespace="rt", what="routing cache", encode=encode_route,
                         decode=decode_route, **options)
