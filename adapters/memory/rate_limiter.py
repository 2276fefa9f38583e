"""Sliding-window rate limiting in process memory: exact within one process, not shared across
processes. Memory per bucket is at most `limit` timestamps."""

from __future__ import annotations

from collections import deque

from application.clock import SYSTEM_CLOCK
from domain.ports import Clock
from domain.ratelimit import MICROS, RateDecision, sliding_window

MAX_BUCKETS = 100_000


class InMemoryRateLimiter:
    def __init__(self, clock: Clock = SYSTEM_CLOCK) -> None:
        self._clock = clock
        self._buckets: dict[str, deque[int]] = {}
        self._longest_period = 0

    async def acquire(self, key: str, limit: int, period_s: float = 60.0) -> RateDecision:
        now = int(self._clock.monotonic() * MICROS)
        period = int(period_s * MICROS)
        self._longest_period = max(self._longest_period, period)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._evict(now)
            bucket = self._buckets[key] = deque()
        return sliding_window(bucket, now, limit, period)

    def _evict(self, now: int) -> None:
        # A bucket whose last admission is a whole period old is indistinguishable from a fresh one.
        horizon = now - self._longest_period
        self._buckets = {k: b for k, b in self._buckets.items() if b and b[-1] > horizon}
