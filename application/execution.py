"""Calling providers resiliently: breakers, retries with backoff, sequential or racing fallback.

The rules live in `domain.breaker` and `domain.fallback`; this module performs the calls, waits
and cancellations. One overall deadline bounds everything. Streams may fall back only until
their first event: after that the caller has the stream and failures end it.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from application.breaker_history import Transition, TransitionLog
from domain.breaker import BreakerPolicy, BreakerSnapshot
from domain.chat import StreamEvent
from domain.errors import CircuitOpen, UpstreamError, UpstreamTimeout
from domain.fallback import FallbackPolicy, backoff_delay, next_step
from domain.ports import BreakerStore, Clock
from domain.telemetry import Observers

log = logging.getLogger(__name__)
T = TypeVar("T")  # a candidate target
R = TypeVar("R")  # what a successful call returns
Key = Callable[[T], str]


@dataclass(slots=True)
class Attempts:
    """What happened, for headers, logs and usage records."""

    tried: list[str] = field(default_factory=list)
    skipped_open: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Executor:
    def __init__(self, breakers: BreakerStore, breaker_policy: BreakerPolicy, clock: Clock,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 jitter: Callable[[], float] = random.random, observers: Observers | None = None,
                 history: TransitionLog | None = None) -> None:
        self._observers = observers
        self._history = history  # the dashboard's recent transitions
        # Each breaker's last state seen here: a transition is detected once, here, and then
        # logged, handed to the observers and kept in the history.
        self._states: dict[str, str] = {}
        self._breakers = breakers
        self._policy = breaker_policy
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter

    async def _report(self, key: str, error: UpstreamError | None) -> None:
        if error is not None and self._observers is not None:
            self._observers.attempt_failed(key, error.kind)
        if error is None:
            snapshot = await self._breakers.record(key, True, self._policy, self._clock.now())
        elif error.counts_against_provider:
            snapshot = await self._breakers.record(key, False, self._policy, self._clock.now())
        else:
            return
        self._transition(key, snapshot)

    def _transition(self, key: str, snapshot: BreakerSnapshot) -> None:
        state = snapshot.state
        before = self._states.get(key, "closed")
        if state == before:
            return
        self._states[key] = state
        if self._history is not None:
            self._history.add(Transition(key, before, state, snapshot.changed_at or self._clock.now(),
                                         snapshot.failures))
        if state == "open":
            log.warning("circuit breaker %s: %s -> open (calls skip it until it cools down)", key, before)
        else:
            log.info("circuit breaker %s: %s -> %s", key, before, state)
        if self._observers is not None:
            self._observers.breaker_changed(key, before, state)

    def _skipped(self, key: str) -> None:
        if self._observers is not None:
            self._observers.attempt_failed(key, "breaker_open")

    async def _all_open(self, attempts: Attempts) -> CircuitOpen:
        """No candidate was admitted: 503, retry when the first breaker lets a probe through."""
        now = self._clock.now()
        waits = []
        for key in attempts.skipped_open:
            snap = await self._breakers.snapshot(key)
            opened = snap.state == "open"
            waits.append(snap.changed_at + self._policy.open_timeout_s - now if opened else 0.0)
        retry_after = max(1.0, min(waits, default=1.0))
        return CircuitOpen("every candidate provider is unavailable (circuit breakers open: "
                           f"{', '.join(dict.fromkeys(attempts.skipped_open))}); retry in {retry_after:.0f}s",
                           retry_after=retry_after)

    async def run(self, targets: list[T], call: Callable[[T], Awaitable[R]], policy: FallbackPolicy,
                  breaker_key: Key[T], attempts: Attempts | None = None,
                  discard: Callable[[R], Awaitable[None]] | None = None) -> tuple[T, R]:
        """Return (target, result) of the first success, or raise the most telling failure.

        In race mode a loser that also succeeded is handed to `discard` (e.g. to close its stream).
        """
        attempts = attempts if attempts is not None else Attempts()
        deadline = self._clock.monotonic() + policy.timeout_s
        try:
            async with asyncio.timeout(policy.timeout_s):
                if policy.mode == "race" and len(targets) > 1:
                    return await self._race(targets, call, policy, breaker_key, attempts, deadline, discard)
                return await self._sequential(targets, call, policy, breaker_key, attempts, deadline)
        except TimeoutError:
            raise UpstreamTimeout(f"no provider answered within {policy.timeout_s:g}s "
                                  f"(tried {', '.join(attempts.tried) or 'none'})") from None

    async def _sequential(self, targets: list[T], call: Callable[[T], Awaitable[R]], policy: FallbackPolicy,
                          breaker_key: Key[T], attempts: Attempts, deadline: float) -> tuple[T, R]:
        last: UpstreamError | None = None
        for target in targets:
            key = breaker_key(target)
            attempt = 0
            while True:
                if not await self._breakers.admit(key, self._policy, self._clock.now()):
                    attempts.skipped_open.append(key)
                    self._skipped(key)
                    break
                attempt += 1
                attempts.tried.append(key)
                try:
                    result = await call(target)
                except UpstreamError as exc:
                    last = exc
                    attempts.errors.append(exc.message)
                    await self._report(key, exc)
                    wait = backoff_delay(attempt, policy, retry_after=exc.retry_after, jitter=self._jitter())
                    step = next_step(retryable=exc.retryable, attempt=attempt, policy=policy, wait_s=wait,
                                     remaining_s=deadline - self._clock.monotonic())
                    if step == "retry" and not exc.counts_against_provider:
                        step = "next"  # the gateway's own limit: waiting here helps no one, try another
                    if step == "stop":
                        raise
                    if step == "next":
                        break
                    await self._sleep(wait)
                    continue
                await self._report(key, None)
                return target, result
        if last is not None:
            raise last
        raise await self._all_open(attempts)

    async def _race(self, targets: list[T], call: Callable[[T], Awaitable[R]], policy: FallbackPolicy,
                    breaker_key: Key[T], attempts: Attempts, deadline: float,
                    discard: Callable[[R], Awaitable[None]] | None) -> tuple[T, R]:
        runners: list[T] = []
        rest = list(targets)
        while rest and len(runners) < policy.race_width:
            target = rest.pop(0)
            key = breaker_key(target)
            if await self._breakers.admit(key, self._policy, self._clock.now()):
                runners.append(target)
                attempts.tried.append(key)
            else:
                attempts.skipped_open.append(key)
                self._skipped(key)

        async def one(target: T) -> tuple[T, R]:
            try:
                result = await call(target)
            except UpstreamError as exc:
                attempts.errors.append(exc.message)
                await self._report(breaker_key(target), exc)
                raise
            await self._report(breaker_key(target), None)
            return target, result

        tasks = [asyncio.ensure_future(one(t)) for t in runners]
        last: UpstreamError | None = None
        winner: tuple[T, R] | None = None
        try:
            for finished in asyncio.as_completed(tasks):
                try:
                    winner = await finished
                    return winner
                except UpstreamError as exc:
                    last = exc
                    if not exc.retryable:
                        raise
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()  # losers are cancelled; their output is never used
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
            for outcome in outcomes:
                if discard is not None and isinstance(outcome, tuple) and outcome is not winner:
                    await discard(outcome[1])
        if rest:
            return await self._sequential(rest, call, policy, breaker_key, attempts, deadline)
        if last is not None:
            raise last
        raise await self._all_open(attempts)


Stream = AsyncGenerator[StreamEvent, None]


async def open_stream(events: Stream) -> tuple[StreamEvent, Stream]:
    """Wait for a stream's first event (the point after which it can no longer fall back)."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        raise UpstreamError("provider stream ended before any data") from None
    except BaseException:
        await events.aclose()
        raise
    return first, events
