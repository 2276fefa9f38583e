"""Traffic of several instances added up through a shared bucket store (a dict here; Redis in
tests/e2e/test_scale_out.py)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from decimal import Decimal

import orjson

from application.shared_traffic import SharedTraffic
from application.traffic_stats import Bucket, ProviderCounts, TrafficStats
from tests.clock import FrozenClock
from tests.unit.test_traffic_stats import record


class DictStore:
    def __init__(self) -> None:
        self.data: dict[int, dict[str, str]] = {}
        self.down = False

    async def save(self, instance: str, buckets: Sequence[Bucket], ttl_s: int) -> None:
        if self.down:
            raise ConnectionError("store down")
        for b in buckets:  # stored as JSON, as the Redis adapter does
            self.data.setdefault(b.minute, {})[instance] = orjson.dumps(b.to_dict()).decode()

    async def load(self, minutes: Sequence[int]) -> dict[int, list[Bucket]]:
        if self.down:
            raise ConnectionError("store down")
        return {m: [Bucket.from_dict(orjson.loads(v)) for v in self.data[m].values()] for m in minutes
                if m in self.data}


def test_a_bucket_survives_its_json_form() -> None:
    bucket = Bucket(7, requests=3, errors=1, cost_usd=Decimal("0.25"))
    bucket.latency[4] += 2
    bucket.models["p:m"] += 3
    bucket.providers["p"] = ProviderCounts(3, 1, 1, 12.5)
    copy = Bucket.from_dict(orjson.loads(orjson.dumps(bucket.to_dict())))
    assert copy.to_dict() == bucket.to_dict() and copy.summary() == bucket.summary()


def test_two_instances_add_up_and_a_copy_written_twice_counts_once() -> None:
    clock, store = FrozenClock(6000.0), DictStore()
    a_stats, b_stats = TrafficStats(clock, minutes=10), TrafficStats(clock, minutes=10)
    a, b = SharedTraffic(a_stats, store, "a"), SharedTraffic(b_stats, store, "b")

    async def run() -> None:
        for _ in range(3):
            a_stats.observe(record(total_ms=10))
        await a.flush()
        clock.t += 60
        b_stats.observe(record(total_ms=20, status=502, outcome="error"))
        a_stats.observe(record(total_ms=10))
        await a.flush()
        await a.flush()  # nothing changed: nothing written, nothing doubled
        seen = await b.window(5)
        assert seen["scope"] == "shared" and seen["instances_seen"] == 2
        assert (seen["totals"]["requests"], seen["totals"]["errors"]) == (5, 1)
        assert [p["requests"] for p in seen["series"][-2:]] == [3, 2]
        assert (await a.window(5))["totals"] == seen["totals"]

    asyncio.run(run())


def test_a_store_outage_falls_back_to_the_instance_and_keeps_the_minutes() -> None:
    clock, store = FrozenClock(6000.0), DictStore()
    stats = TrafficStats(clock, minutes=10)
    shared = SharedTraffic(stats, store, "a")

    async def run() -> None:
        stats.observe(record())
        store.down = True
        window = await shared.window(5)
        assert window["scope"] == "instance" and window["totals"]["requests"] == 1
        store.down = False
        await shared.flush()  # the minute kept back is written now
        assert (await shared.window(5))["totals"]["requests"] == 1

    asyncio.run(run())


def test_final_minutes_are_read_once() -> None:
    clock, store = FrozenClock(6000.0), DictStore()
    stats = TrafficStats(clock, minutes=10)
    shared = SharedTraffic(stats, store, "a")
    asked: list[list[int]] = []
    load = store.load

    async def counting_load(minutes: Sequence[int]) -> dict[int, list[Bucket]]:
        asked.append(list(minutes))
        return await load(minutes)

    store.load = counting_load  # type: ignore[method-assign]

    async def run() -> None:
        stats.observe(record())
        clock.t += 5 * 60
        first = await shared.window(10)
        second = await shared.window(10)
        assert first["totals"] == second["totals"] and second["totals"]["requests"] == 1
        assert 100 in asked[0] and 100 not in asked[1]  # final after two minutes: summed once
        assert asked[1] == [103, 104, 105]

    asyncio.run(run())
