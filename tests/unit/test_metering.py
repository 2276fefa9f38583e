"""Exactly one usage record per request (application/metering.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from application.metering import Metering, PendingSpend, metered_events
from domain.catalog import Catalog, ModelInfo
from domain.chat import StreamEnd, StreamEvent, StreamStart, TextDelta, Usage
from domain.errors import UpstreamError
from domain.keys import ApiKey
from domain.usage import UsageRecord
from tests.clock import FrozenClock

NOW = datetime(2025, 5, 20, 12, tzinfo=UTC)
CATALOG = Catalog([ModelInfo("up", "m", input_per_mtok=1.0, output_per_mtok=2.0)])


class Queue:
    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def submit(self, record: UsageRecord) -> None:
        self.records.append(record)


def metering(charge: bool = False) -> tuple[Metering, Queue]:
    queue = Queue()
    return Metering(queue, CATALOG, PendingSpend(), charge_credits=charge, clock=FrozenClock(NOW.timestamp())), queue


def key(**fields: object) -> ApiKey:
    return ApiKey(id=7, name="k", key_hash="h", key_prefix="apk_x", organization_id="acme", **fields)  # type: ignore[arg-type]


def test_a_meter_closes_once_and_prices_the_usage() -> None:
    m, queue = metering()
    meter = m.start("/v1/chat/completions", "req-1", {"project": "p"})
    meter.served("up", "m-2024-01-01", "router", Usage(input_tokens=1000, output_tokens=1000))
    record = meter.finish(200)
    assert meter.finish(500, "late") is None
    assert queue.records == [record]
    assert record is not None and record.status == "success" and record.cost == Decimal("0.003")
    assert (record.request_id, record.endpoint, record.metadata) == ("req-1", "/v1/chat/completions",
                                                                     {"project": "p"})
    assert record.selection_source == "router" and not record.pricing_unknown and record.created_at == NOW


def test_failures_before_any_provider_are_recorded_without_cost() -> None:
    m, _ = metering()
    record = m.start("/v1/chat/completions").finish(401, "invalid API key")
    assert record is not None and (record.status, record.status_code, record.cost) == ("error", 401, 0)
    assert not record.pricing_unknown


def test_unknown_models_are_flagged_and_cache_hits_cost_nothing() -> None:
    m, _ = metering()
    meter = m.start("/v1/x")
    meter.served("up", "mystery", usage=Usage(input_tokens=10))
    unknown = meter.finish(200)
    assert unknown is not None and unknown.pricing_unknown and unknown.cost == 0
    meter = m.start("/v1/x")
    meter.served("up", "m", usage=Usage(input_tokens=10**6))
    meter.cache_tier = "exact"
    hit = meter.finish(200)
    assert hit is not None and hit.cost == 0 and hit.input_tokens == 10**6


def test_charges_and_budgets_follow_the_key() -> None:
    m, _ = metering(charge=True)
    meter = m.start("/v1/x")
    meter.key = key(budget_limit=Decimal(1), budget_period="daily")
    meter.served("up", "m", usage=Usage(input_tokens=10**6))
    record = meter.finish(200)
    assert record is not None and record.charge_credits and record.organization_id == "acme"
    assert record.budget_period_start == datetime(2025, 5, 20, tzinfo=UTC)
    assert m.pending.for_org("acme") == Decimal(1) and m.pending.for_key(7) == Decimal(1)
    m.settle([record])  # the writer settles each record once, when it is stored
    assert m.pending.for_org("acme") == 0 and m.pending.for_key(7) == 0 and len(m.pending) == 0


def test_free_requests_and_anonymous_ones_are_not_charged() -> None:
    m, _ = metering(charge=True)
    meter = m.start("/v1/x")
    meter.served("up", "m", usage=Usage(input_tokens=10))
    anonymous = meter.finish(200)
    assert anonymous is not None and not anonymous.charge_credits
    meter = m.start("/v1/x")
    meter.key = key()
    zero = meter.finish(200)
    assert zero is not None and not zero.charge_credits and len(m.pending) == 0


async def _events(*events: StreamEvent, fail: Exception | None = None) -> AsyncIterator[StreamEvent]:
    for event in events:
        yield event
    if fail is not None:
        raise fail


def _describe(exc: BaseException) -> tuple[int, str]:
    return 502, str(exc)


async def test_a_stream_closes_its_meter_with_the_streams_own_usage() -> None:
    m, queue = metering()
    meter = m.start("/v1/x")
    meter.served("up", "m")
    events = _events(StreamStart(id="s", model="m", usage=Usage(input_tokens=50, cache_read_tokens=10)),
                     TextDelta("hi"), StreamEnd("stop", Usage(output_tokens=5)))
    seen = [e async for e in metered_events(events, meter, _describe)]
    assert len(seen) == 3 and len(queue.records) == 1
    record = queue.records[0]
    assert (record.status, record.input_tokens, record.cached_tokens, record.output_tokens) == ("success", 50, 10, 5)


async def test_a_failing_stream_is_an_error_record() -> None:
    m, queue = metering()
    meter = m.start("/v1/x")
    with pytest.raises(UpstreamError):
        async for _ in metered_events(_events(StreamStart(id="s", model="m"), fail=UpstreamError("boom")),
                                      meter, _describe):
            pass
    assert [(r.status, r.status_code, r.error_message) for r in queue.records] == [("error", 502, "boom")]


async def test_a_client_that_hangs_up_leaves_a_cancelled_record() -> None:
    m, queue = metering()
    meter = m.start("/v1/x")
    stream = metered_events(_events(StreamStart(id="s", model="m"), TextDelta("a"), TextDelta("b")), meter,
                            _describe)
    await anext(stream)
    await stream.aclose()
    assert [(r.status, r.status_code) for r in queue.records] == [("cancelled", 499)]
