"""Traffic of several instances added up: each instance's per-minute buckets copied to a shared
store (Redis) off the request path, and windows read back from it as the sum over instances.

`SharedTraffic.run` copies the minutes that changed every `interval_s` (and `flush` once more at
shutdown); each instance writes its own whole bucket per minute, so a copy written twice counts
once. A window is read from the store (a minute old enough to be final is read once, then kept);
when the store fails, the instance's own ring answers and the window says `scope: instance`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, Protocol

from application.traffic_stats import Bucket, TrafficStats, window_of

log = logging.getLogger(__name__)
FINAL_AFTER_MINUTES = 2  # a minute this old no longer changes in the store (copies run every second)


class TrafficBucketStore(Protocol):
    async def save(self, instance: str, buckets: Sequence[Bucket], ttl_s: int) -> None:
        """Store each bucket as `instance`'s numbers for its minute (replacing an older copy)."""
        ...

    async def load(self, minutes: Sequence[int]) -> dict[int, list[Bucket]]:
        """Every instance's bucket of each minute that has any."""
        ...


class SharedTraffic:
    def __init__(self, local: TrafficStats, store: TrafficBucketStore, instance: str,
                 interval_s: float = 1.0) -> None:
        self._local, self._store, self._instance = local, store, instance
        self._interval_s = interval_s
        self._ttl_s = (local.capacity_minutes + 2) * 60
        # Minutes every instance has finished writing (their last copy lands within `interval_s`
        # of the minute's end), summed once and kept: a poll reads only the recent minutes.
        self._final: dict[int, Bucket] = {}
        self._instances: dict[int, int] = {}  # minute -> instances that wrote it
        self._failing = False

    async def flush(self) -> None:
        changed = self._local.take_changed()
        if not changed:
            return
        try:
            await self._store.save(self._instance, changed, self._ttl_s)
        except Exception as exc:  # a store outage: keep the minutes for the next try
            self._local.mark_changed([b.minute for b in changed])
            if not self._failing:  # once per outage, not once a second
                log.warning("traffic buckets not stored (kept for later): %s", exc)
            self._failing = True
        else:
            self._failing = False

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            await self.flush()

    async def window(self, minutes: int) -> dict[str, Any]:
        minutes = max(1, min(minutes, self._local.capacity_minutes))
        await self.flush()  # this instance's latest requests count at once
        now = self._local.now_minute()
        first = now - minutes + 1
        wanted = [m for m in range(first, now + 1) if m not in self._final]
        try:
            stored = await self._store.load(wanted)
        except Exception as exc:
            return {**self._local.window(minutes), "scope": "instance", "scope_reason": f"shared store: {exc}"}
        merged = {m: b for m, b in self._final.items() if m >= first}
        for minute, buckets in stored.items():
            total = merged[minute] = Bucket(minute)
            for bucket in buckets:
                total.merge(bucket)
            self._instances[minute] = len(buckets)
        for minute in wanted:
            if minute < now - FINAL_AFTER_MINUTES:  # an empty final minute is not asked for again either
                self._final[minute] = merged.get(minute) or Bucket(minute)
        oldest = now - self._local.capacity_minutes
        self._final = {m: b for m, b in self._final.items() if m > oldest}
        self._instances = {m: n for m, n in self._instances.items() if m > oldest}
        instances = max((n for m, n in self._instances.items() if m >= first), default=0)
        return {**window_of(merged, minutes, now), "scope": "shared", "instances_seen": instances}
