"""The dashboard's per-minute traffic ring: totals, percentiles, savings, bounds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.traffic_stats import TrafficStats, percentile
from domain.telemetry import Observers, RequestRecord
from tests.clock import FrozenClock


def record(**kw: object) -> RequestRecord:
    base: dict[str, object] = {"request_id": "r", "family": "openai", "route": "/v1/chat/completions",
                               "status": 200, "provider": "p", "model": "m", "selection_source": "router"}
    base.update(kw)
    return RequestRecord(**base)  # type: ignore[arg-type]


def test_totals_savings_and_shares() -> None:
    clock = FrozenClock(600.0)
    stats = TrafficStats(clock)
    stats.observe(record(cost_usd=Decimal("0.001"), best_cost_usd=Decimal("0.010"), input_tokens=10,
                         output_tokens=5, total_ms=100, upstream_ms=90))
    stats.observe(record(model="big", selection_source="manual", cost_usd=Decimal("0.004"), best_cost_usd=None))
    stats.observe(record(status=502, outcome="error", error_kind="upstream", cost_usd=None))
    w = stats.window(60)
    t = w["totals"]
    assert (t["requests"], t["errors"], t["input_tokens"], t["output_tokens"]) == (3, 1, 10, 5)
    assert t["error_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert t["cost_usd"] == "0.005"
    assert t["best_cost_usd"] == "0.014"  # a request without a best price counts at its own cost
    assert t["saved_usd"] == "0.009"
    assert w["models"] == {"p:m": 2, "p:big": 1}
    assert w["selection_sources"] == {"router": 2, "manual": 1}
    assert w["providers"]["p"]["errors"] == 1


def test_percentiles_within_a_bin_of_the_truth() -> None:
    stats = TrafficStats(FrozenClock(0.0))
    for ms in range(1, 101):
        stats.observe(record(total_ms=float(ms), upstream_ms=float(ms) - 1))
    t = stats.window(1)["totals"]
    assert 50 <= t["latency_p50_ms"] <= 50 * 1.15
    assert 95 <= t["latency_p95_ms"] <= 95 * 1.15
    assert t["overhead_p95_ms"] <= 1.15
    assert percentile({}, 0.5) is None


def test_series_per_minute_and_window_cut() -> None:
    clock = FrozenClock(0.0)
    stats = TrafficStats(clock)
    stats.observe(record())
    clock.t = 120.0  # two minutes later
    stats.observe(record())
    stats.observe(record())
    w = stats.window(3)
    assert [p["requests"] for p in w["series"]] == [1, 0, 2]
    assert stats.window(1)["totals"]["requests"] == 2


def test_ring_is_bounded() -> None:
    clock = FrozenClock(0.0)
    stats = TrafficStats(clock, minutes=5)
    for minute in range(20):
        clock.t = minute * 60.0
        stats.observe(record())
    assert len(stats._ring) == 5
    assert stats.window(1000)["window_minutes"] == 5
    assert stats.window(1000)["totals"]["requests"] == 5


def test_is_an_observer() -> None:
    stats = TrafficStats(FrozenClock(0.0))
    Observers([stats]).observe(record())
    assert stats.window(1)["totals"]["requests"] == 1


async def test_cache_hit_rates_from_the_records() -> None:
    from adapters.memory.breaker_store import InMemoryBreakerStore
    from application.dashboard import DashboardReads
    from application.settings import Settings
    from domain.breaker import BreakerPolicy
    from domain.catalog import Catalog

    clock = FrozenClock(0.0)
    stats = TrafficStats(clock)
    for tier, source in (("exact", "cache_exact"), ("miss", "router"), ("miss", "cache"), ("miss", "router")):
        stats.observe(record(cache_tier=tier, selection_source=source))
    reads = DashboardReads(Settings(), stats, InMemoryBreakerStore(), BreakerPolicy(), Catalog([]), clock)
    caches = {c["name"]: c for c in (await reads.caches())["caches"]}
    assert caches["response"]["hit_rate_1h"] == 0.25
    assert caches["routing"]["hit_rate_1h"] == pytest.approx(1 / 3, abs=1e-4)


def test_repeated_windows_see_new_traffic_and_advancing_minutes() -> None:
    clock = FrozenClock(0.0)
    stats = TrafficStats(clock)
    stats.observe(record())
    assert stats.window(3)["totals"]["requests"] == 1
    stats.observe(record())  # same minute, after a read
    assert stats.window(3)["totals"]["requests"] == 2
    clock.t = 60.0
    stats.observe(record())
    assert [p["requests"] for p in stats.window(3)["series"]] == [0, 2, 1]
    clock.t = 180.0  # minute 0 has left the 3-minute window (minutes 1-3)
    assert stats.window(3)["totals"]["requests"] == 1
    assert stats.window(5)["totals"]["requests"] == 3
