"""One `RequestRecord` per chat request, built by the use case itself when the request ends.

`ObservedChat` is the chat use case that also reports: a finished answer is recorded when
`complete` returns or raises; a stream when its events end, fail or are closed by a client
that hung up (outcome "cancelled"). HTTP and the library's `Proxy.chat` both get records,
since both call the use case. `Observers.observe` is called once, after the work is done.

Over HTTP every request has an `Exchange`, opened by the edge as it arrives: the use case hands
a chat's record to it (`ChatCall.report`) instead of the observers, and the edge completes it
with what only it knows (path, method, the status sent, the whole time) before sending it on.
A request that never reached the use case (a refused body, `/v1/models`, `/health`) gets a
record of the edge's own facts (`chat=False`), so the access log has one line per request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from application.chat import ChatCall, ChatOutcome, ChatService, StreamOutcome
from application.metering import stream_usage
from domain.catalog import Catalog
from domain.chat import StreamEnd, StreamEvent, StreamStart, TextDelta, Usage
from domain.credits import cost_usd
from domain.errors import STATUS, describe
from domain.keys import Principal
from domain.ports import Clock
from domain.telemetry import Observers, RequestRecord

# HTTP status per domain error kind, as every API family sends it.


# The client family each chat endpoint speaks; the record's route is the endpoint itself.
FAMILY_OF_ENDPOINT = {"chat_completions": "openai", "messages": "anthropic", "gemini": "gemini"}


def error_status(exc: BaseException) -> tuple[int, str]:
    """(status, error kind) as the client is answered (domain.errors.describe: an all-429 fallback
    is rate_limited, not upstream)."""
    kind = describe(exc)[0]
    return STATUS[kind], kind


@dataclass(slots=True)
class _Facts:
    """What one request has shown so far; turned into the record when it ends."""

    call: ChatCall
    route: str
    started: float
    streamed: bool = False
    outcome: ChatOutcome | StreamOutcome | None = None
    usage: Usage | None = None
    upstream_s: float = 0.0
    ttft_s: float | None = None
    notes: list[str] = field(default_factory=list)
    finish_reason: str | None = None


class ObservedChat(ChatService):
    """`ChatService` that hands one `RequestRecord` per request to `observers`."""

    def __init__(self, *args: Any, observers: Observers, pricing: Catalog | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # ChatService keeps the clock (`clock=`) the records are timed with
        self._observers = observers
        self._pricing = pricing

    async def complete(self, call: ChatCall) -> ChatOutcome:
        facts = _Facts(call, route=call.family, started=self._clock.monotonic())
        try:
            outcome = await super().complete(call)
        except BaseException as exc:
            self._finish(facts, exc)
            raise
        facts.outcome, facts.usage, facts.upstream_s = outcome, outcome.response.usage, outcome.upstream_s
        facts.finish_reason = outcome.response.finish_reason
        self._finish(facts, None)
        return outcome

    async def stream(self, call: ChatCall) -> StreamOutcome:
        facts = _Facts(call, route=call.family, started=self._clock.monotonic(), streamed=True)
        try:
            outcome = await super().stream(call)
        except BaseException as exc:
            self._finish(facts, exc)
            raise
        facts.outcome, facts.upstream_s = outcome, outcome.upstream_s
        outcome.events = self._watched(outcome.events, facts)
        return outcome

    async def _watched(self, events: AsyncIterator[StreamEvent], facts: _Facts) -> AsyncIterator[StreamEvent]:
        start: Usage | None = None
        end: Usage | None = None
        error: BaseException | None = None
        cancelled = True  # until the stream ends on its own
        try:
            while True:
                waited = self._clock.monotonic()
                try:
                    event = await anext(aiter(events))
                except StopAsyncIteration:
                    cancelled = False
                    break
                finally:
                    facts.upstream_s += self._clock.monotonic() - waited
                if isinstance(event, StreamStart):
                    start = event.usage
                elif isinstance(event, StreamEnd):
                    end, facts.finish_reason = event.usage, event.finish_reason
                elif facts.ttft_s is None and isinstance(event, TextDelta):
                    facts.ttft_s = self._clock.monotonic() - facts.started
                yield event
        except Exception as exc:
            error, cancelled = exc, False
            raise
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
            facts.usage = stream_usage(start, end)
            if cancelled:
                facts.notes.append("client closed the stream")
            self._finish(facts, error, cancelled=cancelled)

    def _finish(self, facts: _Facts, error: BaseException | None, *, cancelled: bool = False) -> None:
        report = facts.call.report
        (report or self._observers.observe)(self._record(facts, error, cancelled))

    def _record(self, facts: _Facts, error: BaseException | None, cancelled: bool) -> RequestRecord:
        call, outcome, usage = facts.call, facts.outcome, facts.usage or Usage()
        status, kind = (200, None) if error is None else error_status(error)
        if isinstance(error, BaseException) and not isinstance(error, Exception):
            status, kind, cancelled = 499, None, True  # the caller was cancelled mid-call
        outcome_name = "cancelled" if cancelled else ("error" if error is not None else "success")
        attempts = tuple(call.tried)
        principal = call.principal
        cost, best = self._costs(outcome, usage)
        return RequestRecord(
            request_id=call.request_id, family=FAMILY_OF_ENDPOINT.get(call.family, call.family), route=facts.route,
            status=status if not facts.streamed or outcome is None else 200,
            outcome=outcome_name, error_kind=kind if error is not None else None, streamed=facts.streamed,
            key_id=getattr(getattr(principal, "key", None), "id", None) if principal else None,
            organization_id=getattr(principal, "organization_id", None) if principal else None,
            selection_source=outcome.selection.source if outcome is not None else None,
            provider=outcome.target.provider if outcome is not None else None,
            model=outcome.target.model if outcome is not None else None,
            requested_model=call.request.model or None, attempts=attempts,
            fallbacks=max(0, len(attempts) - 1),
            total_ms=(self._clock.monotonic() - facts.started) * 1000, upstream_ms=facts.upstream_s * 1000,
            ttft_ms=None if facts.ttft_s is None else facts.ttft_s * 1000,
            input_tokens=usage.input_tokens, cached_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens, reasoning_tokens=usage.reasoning_tokens,
            cost_usd=cost, best_cost_usd=best,
            cache_tier=outcome.cache_tier if outcome is not None else None, notes=tuple(facts.notes),
            finish_reason=facts.finish_reason)

    def _costs(self, outcome: ChatOutcome | StreamOutcome | None,
               usage: Usage) -> tuple[Decimal | None, Decimal | None]:
        if outcome is None or self._pricing is None:
            return None, None
        if outcome.cache_tier not in (None, "", "miss"):
            return Decimal(0), None  # answered from the response cache: nothing bought
        info = self._pricing.get(outcome.target.provider, outcome.target.model)
        cost = cost_usd(usage, info)[0] if info is not None else None
        if outcome.selection.source != "router":
            return cost, None
        priced = [cost_usd(usage, i)[0] for t in outcome.selection.targets
                  if (i := self._pricing.get(t.provider, t.model)) is not None]
        return cost, max(priced) if priced else None


class Exchange:
    """One request at the edge, from its arrival until its record is sent (see the module doc).

    `close` is called when the handler has answered; for a chat the use case's record arrives
    through `report` (for a stream, when the stream ends: after `close`). Whichever comes second
    sends the record, once, to `dispatch`.
    """

    __slots__ = ("_clock", "_closed", "_dispatch", "chat", "family", "method", "record", "request_id", "route",
                 "started")

    def __init__(self, dispatch: Callable[[RequestRecord], None], clock: Clock, request_id: str,
                 method: str, route: str, family: str) -> None:
        self._dispatch, self._clock = dispatch, clock
        self.request_id, self.method, self.route, self.family = request_id, method, route, family
        self.started = clock.monotonic()
        self.chat = False
        self.record: RequestRecord | None = None
        self._closed: tuple[int, str | None, Principal | None] | None = None

    def elapsed_ms(self) -> float:
        return (self._clock.monotonic() - self.started) * 1000

    def chat_report(self) -> Callable[[RequestRecord], None]:
        """The `ChatCall.report` of the chat this request runs: its record then comes from the use case."""
        self.chat = True
        return self.report

    def report(self, record: RequestRecord) -> None:
        self.record = record
        if self._closed is not None:
            self._send()

    def close(self, status: int, error_kind: str | None = None, principal: Principal | None = None, *,
              streaming: bool = False) -> None:
        """The handler has answered `status`; `streaming`: its body is still being sent."""
        if self._closed is not None:
            return
        self._closed = (status, error_kind, principal)
        if self.record is not None or not (self.chat and streaming):
            self._send()

    def _send(self) -> None:
        assert self._closed is not None
        status, kind, principal = self._closed
        total_ms = self.elapsed_ms()
        record = self.record
        if record is not None:
            record = record.at_edge(self.route, self.method, status, total_ms)
        else:
            key = principal.key if principal is not None else None
            record = RequestRecord(
                request_id=self.request_id, family=self.family, route=self.route, status=status,
                outcome="cancelled" if status == 499 else ("error" if status >= 400 else "success"),
                error_kind=kind, key_id=key.id if key is not None else None,
                organization_id=key.organization_id if key is not None else None, total_ms=total_ms,
                chat=False, method=self.method)
        self._dispatch(record)
