"""Exactly one usage record per request.

A `RequestMeter` is opened when a request enters and closed by whoever finishes the request:
the handler's return, the end of a stream, an error, or a client that hangs up. The first
`finish` wins and builds the record; later calls are no-ops. Finished records go to a
`UsageQueue` (O(1), non-blocking) that writes them in batches.

The meter travels with the request as `ChatCall.meter`; no ambient (ContextVar) state.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from application.clock import SYSTEM_CLOCK, utc
from domain.catalog import Catalog
from domain.chat import StreamEnd, StreamEvent, StreamStart, Usage
from domain.credits import Prices
from domain.keys import ApiKey, period_start
from domain.ports import Clock, UsageQueue
from domain.usage import UsageRecord, UsageStatus

_ZERO = Decimal(0)
MAX_ERROR_CHARS = 1000
# Response-cache tiers that mean "no upstream call was made": such a request costs nothing.
CACHE_MISSES = frozenset({"", "miss", "none", "bypass"})


def _random_id() -> str:
    return os.urandom(16).hex()


class PendingSpend:
    """Spend already finished but not yet written, per organization and per key.

    Pre-flight checks subtract it, so a burst of requests cannot outrun the batched writer.
    Only amounts are kept (no records, no ids): memory stays the same however far the writer
    falls behind and however many records wait in the spill file. The writer settles each
    record it was handed exactly once, when it is stored (from memory or replayed from the
    spill lines it wrote itself).
    """

    def __init__(self) -> None:
        self._orgs: dict[str, Decimal] = {}
        self._keys: dict[int, Decimal] = {}
        self._count = 0

    def add(self, record: UsageRecord) -> None:
        self._apply(record, 1)

    def settle(self, records: Sequence[UsageRecord]) -> None:
        """The records are stored: their spend is now part of the stored balances."""
        for record in records:
            self._apply(record, -1)

    def _apply(self, record: UsageRecord, sign: int) -> None:
        if record.cost <= 0:
            return
        charged = record.charge_credits and record.organization_id is not None
        budgeted = record.budget_period_start is not None and record.api_key_id is not None
        if not (charged or budgeted):
            return
        self._count = max(self._count + sign, 0)
        if charged and record.organization_id is not None:
            _change(self._orgs, record.organization_id, sign * record.cost)
        if budgeted and record.api_key_id is not None:
            _change(self._keys, record.api_key_id, sign * record.cost)

    def for_org(self, organization_id: str) -> Decimal:
        return self._orgs.get(organization_id, _ZERO)

    def for_key(self, key_id: int) -> Decimal:
        return self._keys.get(key_id, _ZERO)

    def __len__(self) -> int:
        """Records whose spend is pending."""
        return self._count


def _change(totals: dict[Any, Decimal], name: Any, amount: Decimal) -> None:
    left = totals.get(name, _ZERO) + amount
    if left > 0:
        totals[name] = left
    else:
        totals.pop(name, None)


class Metering:
    """Opens meters and turns finished ones into priced records. One per process."""

    def __init__(self, queue: UsageQueue, catalog: Catalog, pending: PendingSpend | None = None, *,
                 currency: str = "USD", charge_credits: bool = False, clock: Clock | None = None,
                 new_id: Callable[[], str] | None = None) -> None:
        self._queue = queue
        self._catalog = catalog
        self.pending = pending if pending is not None else PendingSpend()
        self._currency = currency
        self._charge = charge_credits
        self._clock = clock or SYSTEM_CLOCK
        self._new_id = new_id or _random_id
        self._prices: dict[tuple[str, str], Prices | None] = {}

    def start(self, endpoint: str, request_id: str = "",
              metadata: Mapping[str, Any] | None = None) -> RequestMeter:
        return RequestMeter(self, endpoint, request_id, dict(metadata) if metadata else {})

    def _record(self, meter: RequestMeter, status: UsageStatus, status_code: int,
                error: str | None) -> UsageRecord:
        usage = meter.usage or Usage()
        cost, unknown = _ZERO, False
        if meter.model:
            prices = self._prices_of(meter.provider, meter.model)
            if prices is None:
                unknown = True
            else:
                cost = prices.cost(usage)
        if meter.cache_tier is not None and meter.cache_tier not in CACHE_MISSES:
            cost = _ZERO  # answered from the gateway's cache: nothing was bought upstream
        key = meter.key
        record = UsageRecord(
            id=self._new_id(), request_id=meter.request_id, endpoint=meter.endpoint,
            api_key_id=key.id if key else None, organization_id=key.organization_id if key else None,
            provider=meter.provider, model=meter.model, input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens, cached_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens, reasoning_tokens=usage.reasoning_tokens,
            cost=cost, currency=self._currency, pricing_unknown=unknown, status=status,
            status_code=status_code, latency_ms=int((self._clock.monotonic() - meter.started) * 1000),
            streamed=meter.streaming, cache_tier=meter.cache_tier, selection_source=meter.selection_source,
            error_message=error[:MAX_ERROR_CHARS] if error else None, metadata=meter.metadata,
            created_at=meter.created_at)
        if key is not None and cost > 0:
            record.charge_credits = self._charge and key.organization_id is not None
            if key.budget_limit is not None:
                record.budget_period_start = period_start(key.budget_period, meter.created_at)
        return record

    def _prices_of(self, provider: str, model: str) -> Prices | None:
        key = (provider, model)
        try:
            return self._prices[key]
        except KeyError:
            pass
        info = self._catalog.get(provider, model)
        prices = Prices.of(info) if info is not None else None
        if len(self._prices) >= 4096:  # arbitrary model names come from requests: stay bounded
            self._prices.clear()
        self._prices[key] = prices
        return prices

    def _submit(self, record: UsageRecord) -> None:
        self.pending.add(record)
        self._queue.submit(record)

    def settle(self, records: Sequence[UsageRecord]) -> None:
        """Called by the writer once records are stored."""
        self.pending.settle(records)


class RequestMeter:
    """The usage ledger of one request. Cheap: a few attribute writes until `finish`."""

    __slots__ = ("_metering", "cache_tier", "created_at", "endpoint", "finished", "key", "metadata", "model",
                 "provider", "request_id", "selection_source", "started", "streaming", "usage")

    def __init__(self, metering: Metering, endpoint: str, request_id: str, metadata: dict[str, Any]) -> None:
        self._metering = metering
        self.endpoint = endpoint
        self.request_id = request_id
        self.metadata = metadata
        self.started = metering._clock.monotonic()
        self.created_at = utc(metering._clock)
        self.key: ApiKey | None = None
        self.provider = ""
        self.model = ""
        self.selection_source: str | None = None
        self.cache_tier: str | None = None
        self.usage: Usage | None = None
        self.streaming = False
        self.finished = False

    def identify(self, key: ApiKey) -> None:
        self.key = key

    def served(self, provider: str, model: str, selection_source: str | None = None,
               usage: Usage | None = None) -> None:
        """What served the request (the last call wins: a fallback reports its final target)."""
        self.provider = provider
        self.model = model
        if selection_source is not None:
            self.selection_source = selection_source
        if usage is not None:
            self.usage = usage

    def discard(self) -> None:
        """Close the ledger without a record: the request was refused before anything was served
        (malformed, too large, unknown route), so there is nothing to account for."""
        self.finished = True

    def finish(self, status_code: int, error: str | None = None, *, cancelled: bool = False) -> UsageRecord | None:
        """Close the ledger once; returns the record, or None if it was already closed."""
        if self.finished:
            return None
        self.finished = True
        if cancelled:
            status: UsageStatus = "cancelled"
        elif status_code >= 400 or error is not None:
            status = "error"
        else:
            status = "success"
        record = self._metering._record(self, status, status_code, error)
        self._metering._submit(record)
        return record


async def metered_events(events: AsyncIterator[StreamEvent], meter: RequestMeter,
                         describe: Callable[[BaseException], tuple[int, str]]) -> AsyncIterator[StreamEvent]:
    """Pass a stream through, closing `meter` when it ends, fails, or is closed early (a client
    that hangs up): usage comes from the stream's own StreamEnd (and StreamStart) events."""
    start_usage: Usage | None = None
    end_usage: Usage | None = None
    status_code, cancelled = 499, True
    error: str | None = "client closed the stream"
    try:
        async for event in events:
            if isinstance(event, StreamEnd):
                end_usage = event.usage
            elif isinstance(event, StreamStart) and event.usage is not None:
                start_usage = event.usage
            yield event
        status_code, error, cancelled = 200, None, False
    except Exception as exc:
        (status_code, error), cancelled = describe(exc), False
        raise
    finally:
        try:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        finally:
            meter.usage = stream_usage(start_usage, end_usage)
            meter.finish(status_code, error, cancelled=cancelled)


def stream_usage(start: Usage | None, end: Usage | None) -> Usage | None:
    """The end's totals; input counts reported only up front (Anthropic) fill in the gaps."""
    if end is None or start is None:
        return end or start
    merged = Usage(**{f: getattr(end, f) for f in Usage.__slots__})
    for name in ("input_tokens", "cache_read_tokens", "cache_write_tokens"):
        if not getattr(merged, name):
            setattr(merged, name, getattr(start, name))
    return merged
