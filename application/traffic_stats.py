"""Traffic statistics for the dashboard: a bounded per-minute ring of finished requests.

`TrafficStats` is a `RequestObserver`: `observe` folds one `RequestRecord` into the current
minute's bucket in constant time (counters and a sparse log-scale latency histogram, so p50/p95
merge across minutes without keeping samples). The ring holds at most `minutes` buckets (a day
by default) per process; `window(n)` sums the last `n` minutes into totals and a per-minute
series. The ring is per instance; with Redis, `application.shared_traffic` copies each
instance's buckets there (off the request path) so that the dashboard adds instances up.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.ports import Clock
from domain.telemetry import RequestRecord

# Latency histogram: bin i holds values in [BASE * GROWTH**(i-1), BASE * GROWTH**i) milliseconds;
# bin 0 holds everything under BASE; the last bin everything above. 96 bins of 15% reach past
# 10 minutes. Histograms are sparse (only the bins that were hit), so merging minutes is cheap.
BASE_MS = 0.5
GROWTH = 1.15
BINS = 96
_LOG_GROWTH = math.log(GROWTH)
# A record carrying this note has no upstream timing (the interim feed): no overhead sample.
NO_UPSTREAM_TIMING = "no_upstream_timing"


def _bin(ms: float) -> int:
    if ms < BASE_MS:
        return 0
    return min(BINS - 1, 1 + int(math.log(ms / BASE_MS) / _LOG_GROWTH))


def _bin_upper(index: int) -> float:
    return BASE_MS * GROWTH ** index


def percentile(histogram: dict[int, int], q: float) -> float | None:
    """The upper edge of the bin holding the q-quantile (at most 15% above the true value).
    `histogram` is sparse: bin index -> count, only bins that were hit."""
    total = sum(histogram.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(histogram):
        seen += histogram[index]
        if seen >= rank:
            return round(_bin_upper(index), 2)
    return round(_bin_upper(BINS - 1), 2)


@dataclass(slots=True)
class ProviderCounts:
    requests: int = 0
    errors: int = 0
    rate_limited: int = 0
    total_ms: float = 0.0

    def merge(self, other: ProviderCounts) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.rate_limited += other.rate_limited
        self.total_ms += other.total_ms


@dataclass(slots=True)
class Bucket:
    minute: int  # minutes since the epoch
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    best_cost_usd: Decimal = Decimal(0)
    latency: Counter[int] = field(default_factory=Counter)  # sparse histograms: bin -> count
    overhead: Counter[int] = field(default_factory=Counter)
    models: Counter[str] = field(default_factory=Counter)
    sources: Counter[str] = field(default_factory=Counter)
    cache_tiers: Counter[str] = field(default_factory=Counter)
    providers: dict[str, ProviderCounts] = field(default_factory=dict)

    def add(self, record: RequestRecord) -> None:
        self.requests += 1
        failed = record.outcome != "success" or record.status >= 400
        if failed:
            self.errors += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        if record.cost_usd is not None:
            self.cost_usd += record.cost_usd
            # Without a best-candidate price the request saved nothing: count it at its own cost.
            self.best_cost_usd += record.best_cost_usd if record.best_cost_usd is not None else record.cost_usd
        self.latency[_bin(record.total_ms)] += 1
        if NO_UPSTREAM_TIMING not in record.notes:
            self.overhead[_bin(record.overhead_ms)] += 1
        if record.model:
            self.models[f"{record.provider}:{record.model}" if record.provider else record.model] += 1
        self.sources[record.selection_source or "none"] += 1
        self.cache_tiers[record.cache_tier or "none"] += 1
        if record.provider:
            counts = self.providers.setdefault(record.provider, ProviderCounts())
            counts.requests += 1
            counts.errors += int(failed)
            counts.rate_limited += int(record.status == 429 or record.error_kind == "rate_limited")
            counts.total_ms += record.total_ms

    def merge(self, other: Bucket) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        self.best_cost_usd += other.best_cost_usd
        self.latency.update(other.latency)
        self.overhead.update(other.overhead)
        self.models.update(other.models)
        self.sources.update(other.sources)
        self.cache_tiers.update(other.cache_tiers)
        for name, counts in other.providers.items():
            self.providers.setdefault(name, ProviderCounts()).merge(counts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (for a shared store); `from_dict` reads it back."""
        return {"minute": self.minute, "requests": self.requests, "errors": self.errors,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cost_usd": str(self.cost_usd), "best_cost_usd": str(self.best_cost_usd),
                "latency": {str(k): v for k, v in self.latency.items()},
                "overhead": {str(k): v for k, v in self.overhead.items()},
                "models": dict(self.models), "sources": dict(self.sources), "cache_tiers": dict(self.cache_tiers),
                "providers": {n: [c.requests, c.errors, c.rate_limited, c.total_ms] for n, c in self.providers.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Bucket:
        bucket = cls(int(data["minute"]), int(data["requests"]), int(data["errors"]), int(data["input_tokens"]),
                     int(data["output_tokens"]), Decimal(data["cost_usd"]), Decimal(data["best_cost_usd"]))
        bucket.latency.update({int(k): int(v) for k, v in data["latency"].items()})
        bucket.overhead.update({int(k): int(v) for k, v in data["overhead"].items()})
        bucket.models.update(data["models"])
        bucket.sources.update(data["sources"])
        bucket.cache_tiers.update(data["cache_tiers"])
        bucket.providers = {n: ProviderCounts(int(r), int(e), int(rl), float(ms))
                            for n, (r, e, rl, ms) in data["providers"].items()}
        return bucket

    def copy(self) -> Bucket:
        clone = Bucket(self.minute)
        clone.merge(self)
        return clone

    def summary(self) -> dict[str, Any]:
        saved = self.best_cost_usd - self.cost_usd
        return {
            "requests": self.requests, "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 4) if self.requests else 0.0,
            "latency_p50_ms": percentile(self.latency, 0.5), "latency_p95_ms": percentile(self.latency, 0.95),
            "overhead_p50_ms": percentile(self.overhead, 0.5), "overhead_p95_ms": percentile(self.overhead, 0.95),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "cost_usd": str(self.cost_usd), "best_cost_usd": str(self.best_cost_usd),
            "saved_usd": str(saved),
            "saved_share": round(float(saved / self.best_cost_usd), 4) if self.best_cost_usd else 0.0,
        }


EMPTY_SUMMARY = Bucket(0).summary()


class TrafficStats:
    """The ring of per-minute buckets (oldest first); one per process, fed by `observe`."""

    def __init__(self, clock: Clock, minutes: int = 24 * 60) -> None:
        if minutes < 1:
            raise ValueError("minutes must be at least 1")
        self._clock = clock
        self._minutes = minutes
        self._ring: deque[Bucket] = deque(maxlen=minutes)
        # Closed minutes never change: their summaries, and each window's total over its closed
        # minutes (recomputed once a minute), are kept so that polling a window is cheap.
        self._summaries: dict[int, dict[str, Any]] = {}
        self._closed: dict[int, tuple[int, Bucket]] = {}  # window size -> (current minute, total)
        self._dirty: set[int] = set()  # minutes changed since `take_changed` last ran

    @property
    def capacity_minutes(self) -> int:
        return self._minutes

    def now_minute(self) -> int:
        return int(self._clock.now() // 60)


    def observe(self, record: RequestRecord) -> None:
        if not record.chat:  # the dashboard counts chat requests only, not refusals or /v1/models
            return
        minute = self.now_minute()
        if not self._ring or self._ring[-1].minute != minute:
            self._ring.append(Bucket(minute))  # maxlen drops the oldest minute
        self._ring[-1].add(record)
        self._dirty.add(minute)

    def take_changed(self) -> list[Bucket]:
        """Copies of the minutes changed since the last call (for a shared store)."""
        changed = [b.copy() for b in self._ring if b.minute in self._dirty]
        self._dirty.clear()
        return changed

    def mark_changed(self, minutes: list[int]) -> None:
        """Put minutes back (their copy could not be stored); minutes gone from the ring are dropped."""
        self._dirty.update(minutes)

    def window(self, minutes: int) -> dict[str, Any]:
        """Totals and per-minute series over the last `minutes` (capped at the ring's size)."""
        minutes = max(1, min(minutes, self._minutes))
        now = self.now_minute()
        first = now - minutes + 1
        by_minute = {b.minute: b for b in self._ring if b.minute >= first}
        cached = self._closed.get(minutes)
        if cached is None or cached[0] != now:
            closed = Bucket(first)
            for minute in range(first, now):
                if minute in by_minute:
                    closed.merge(by_minute[minute])
            self._closed[minutes] = cached = (now, closed)
            self._summaries = {m: v for m, v in self._summaries.items() if m >= now - self._minutes}
        total = cached[1].copy()
        current = by_minute.get(now)
        if current is not None:
            total.merge(current)
        series = [{"t": minute * 60, **self._summary(by_minute.get(minute), minute, now)}
                  for minute in range(first, now + 1)]
        return render(minutes, first, now, total, series)

    def _summary(self, bucket: Bucket | None, minute: int, now: int) -> dict[str, Any]:
        if bucket is None:
            return EMPTY_SUMMARY
        if minute == now:  # still filling
            return bucket.summary()
        found = self._summaries.get(minute)
        if found is None:
            found = self._summaries[minute] = bucket.summary()
        return found


def window_of(by_minute: dict[int, Bucket], minutes: int, now: int) -> dict[str, Any]:
    """The same shape as `TrafficStats.window`, over buckets from elsewhere (no caching)."""
    first = now - minutes + 1
    total = Bucket(first)
    for minute in range(first, now + 1):
        if minute in by_minute:
            total.merge(by_minute[minute])
    series = [{"t": minute * 60, **(by_minute[minute].summary() if minute in by_minute else EMPTY_SUMMARY)}
              for minute in range(first, now + 1)]
    return render(minutes, first, now, total, series)


def render(minutes: int, first: int, now: int, total: Bucket, series: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "window_minutes": minutes, "since": first * 60, "until": (now + 1) * 60,
        "totals": total.summary(),
        "models": dict(total.models.most_common()),
        "selection_sources": dict(total.sources.most_common()),
        "cache_tiers": dict(total.cache_tiers.most_common()),
        "providers": {
            name: {"requests": c.requests, "errors": c.errors, "rate_limited": c.rate_limited,
                   "error_rate": round(c.errors / c.requests, 4) if c.requests else 0.0,
                   "rate_limited_rate": round(c.rate_limited / c.requests, 4) if c.requests else 0.0,
                   "mean_latency_ms": round(c.total_ms / c.requests, 2) if c.requests else None}
            for name, c in sorted(total.providers.items())},
        "series": series,
    }
