"""GCRA rate limiting in process memory: exact within one process, not shared across processes."""

from __future__ import annotations

import time
from collections.abc import Callable

from domain.ratelimit import MICROS, RateDecision, gcra

MAX_BUCKETS = 100_000


class InMemoryRateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tats: dict[str, int] = {}

    async def acquire(self, key: str, limit: int, period_s: float = 60.0) -> RateDecision:
        now = int(self._clock() * MICROS)
        decision, new_tat = gcra(self._tats.get(key), now, limit, int(period_s * MICROS))
        if new_tat is not None:
            if len(self._tats) >= MAX_BUCKETS:
                self._evict(now)
            self._tats[key] = new_tat
        return decision

    def _evict(self, now: int) -> None:
        # A bucket whose TAT is in the past is indistinguishable from a fresh one.
        self._tats = {k: tat for k, tat in self._tats.items() if tat > now}
