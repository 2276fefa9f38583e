"""The prompt-response and routing-decision caches in this process: the embedded default.

An LRU of entries with per-entry expiry, plus a small vector index per semantic bucket holding
the `per_bucket` most recent unit vectors. A semantic lookup scans one bucket only:
O(per_bucket x dimensions). Nothing here awaits, so on one event loop each call is atomic.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Generic, TypeVar

from application.clock import SYSTEM_CLOCK
from domain.cache_key import CachedResponse, best_match, normalized
from domain.ports import Clock
from domain.route_cache import CachedRoute

E = TypeVar("E")


class InMemoryKeyedCache(Generic[E]):
    def __init__(self, max_entries: int = 10_000, per_bucket: int = 32,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._max = max_entries
        self._per_bucket = per_bucket
        self._clock = clock
        # key -> (expires at, entry, bucket); order = least recently used first
        self._entries: OrderedDict[str, tuple[float, E, str | None]] = OrderedDict()
        self._buckets: dict[str, OrderedDict[str, tuple[float, ...]]] = {}

    async def get(self, key: str) -> E | None:
        return self.get_now(key)

    def get_now(self, key: str) -> E | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if found[0] <= self._clock.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return found[1]

    async def put(self, key: str, entry: E, ttl_s: float, *, bucket: str | None = None,
                  vector: Sequence[float] | None = None) -> None:
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (self._clock.monotonic() + ttl_s, entry, bucket if vector is not None else None)
        if bucket is not None and vector is not None:
            index = self._buckets.setdefault(bucket, OrderedDict())
            index[key] = tuple(normalized(vector))
            while len(index) > self._per_bucket:
                index.popitem(last=False)
        while len(self._entries) > self._max:
            self._drop(next(iter(self._entries)))

    async def nearest(self, bucket: str, vector: Sequence[float],
                      threshold: float) -> tuple[E, float] | None:
        index = self._buckets.get(bucket)
        if not index:
            return None
        for similarity, key in best_match(normalized(vector), list(index.items()), threshold):
            entry = self.get_now(key)
            if entry is not None:
                return entry, similarity
        return None

    async def size(self) -> int:
        return len(self._entries)

    async def clear(self) -> int:
        removed = len(self._entries)
        self._entries.clear()
        self._buckets.clear()
        return removed

    def status(self) -> dict[str, object]:
        return {"store": "memory", "entries": len(self._entries)}

    def _drop(self, key: str) -> None:
        _, _, bucket = self._entries.pop(key)
        if bucket is not None:
            index = self._buckets.get(bucket)
            if index is not None:
                index.pop(key, None)
                if not index:
                    del self._buckets[bucket]


class InMemoryResponseCache(InMemoryKeyedCache[CachedResponse]):
    """Chat responses (ports.ResponseCache)."""


class InMemoryRouteCache(InMemoryKeyedCache[CachedRoute]):
    """Routing decisions (ports.RouteCache)."""
