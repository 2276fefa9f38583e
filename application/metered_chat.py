"""The chat use case with its access gate and usage ledger: `MeteredChat`.

Every frontend calls the same use case, so every frontend is metered the same way:
- `admit`: with API keys on, a call that arrives without a principal is admitted here
  (authenticate, rate limit, budget and credit pre-flight) from `ChatCall.api_key`;
- `meter`: with usage recording on, a call that arrives without a meter gets one here, and
  this decorator closes it when the answer is returned, fails, or its stream ends;
- `report`: the outcome (provider, model, selection, usage, cache tier) goes to the meter in
  every case; a stream's events are wrapped once so the ledger closes with the stream's own usage.

HTTP opens the meter and admits at the door (`entrypoints/http/access.py`) because every
`/v1` route is metered, not only chat; it hands both in `ChatCall`, and the HTTP layer closes a
non-streaming meter with the status it actually sent. The library's `Proxy.chat` hands neither:
this class then does all of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from application.access import AccessGate
from application.chat import ChatCall, ChatOutcome, StreamOutcome
from application.metering import Metering, RequestMeter, metered_events
from application.observation import ObservedChat
from domain.errors import is_refusal, status_of

Outcome = TypeVar("Outcome", ChatOutcome, StreamOutcome)


class MeteredChat(ObservedChat):
    """`ObservedChat` that also admits the caller and records one usage row per request."""

    def __init__(self, *args: Any, metering: Callable[[], Metering] | None = None,
                 gate: Callable[[], AccessGate] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._metering = metering
        self._gate = gate

    async def _open(self, call: ChatCall) -> bool:
        """Give the call a meter and a principal if its frontend did not; True if the meter is ours."""
        opened = False
        metering = self._metering() if self._metering is not None else None
        if call.meter is None and metering is not None:
            call.meter = metering.start(call.family, call.request_id, call.metadata)
            opened = True
        gate = self._gate() if self._gate is not None else None
        if call.principal is None and gate is not None:
            try:
                call.principal = await gate.admit(call.api_key, call.meter.identify if call.meter else None)
            except BaseException as exc:
                if opened and call.meter is not None:
                    _finish_failed(call.meter, exc)
                raise
        return opened

    async def complete(self, call: ChatCall) -> ChatOutcome:
        outcome, opened = await self._metered(call, super().complete)
        if opened and call.meter is not None:
            call.meter.finish(200)
        return outcome

    async def stream(self, call: ChatCall) -> StreamOutcome:
        outcome, _ = await self._metered(call, super().stream)  # a stream's meter closes when it ends
        return outcome

    async def _metered(self, call: ChatCall, run: Callable[[ChatCall], Awaitable[Outcome]]) -> tuple[Outcome, bool]:
        """`run(call)` with the call admitted and metered; the outcome is reported to the meter.
        True with it when this decorator opened the meter (and so must close it)."""
        opened = await self._open(call)
        try:
            outcome = await run(call)
        except BaseException as exc:
            if opened and call.meter is not None:
                _finish_failed(call.meter, exc)
            raise
        if call.meter is not None:
            report(call.meter, outcome)
        return outcome, opened


def _finish_failed(meter: RequestMeter, exc: BaseException) -> None:
    if isinstance(exc, asyncio.CancelledError):
        meter.finish(499, "client disconnected", cancelled=True)
    elif is_refusal(exc):
        meter.discard()  # bad input refused before any upstream call: nothing is recorded
    else:
        meter.finish(*status_of(exc))


def report(meter: RequestMeter, outcome: ChatOutcome | StreamOutcome) -> None:
    """Report the outcome to the request's ledger; a stream's events are wrapped (once) so the
    ledger closes with the stream's own usage when it ends, fails or the client hangs up.
    An outcome answered from a response cache says so in `cache_tier`: recorded at no cost."""
    if outcome.cache_tier:
        meter.cache_tier = outcome.cache_tier
    if isinstance(outcome, StreamOutcome):
        if not meter.streaming:
            meter.streaming = True
            meter.served(outcome.target.provider, outcome.target.model, outcome.selection.source)
            outcome.events = metered_events(outcome.events, meter, status_of)
        return
    meter.served(outcome.target.provider, outcome.target.model, outcome.selection.source,
                 outcome.response.usage)
