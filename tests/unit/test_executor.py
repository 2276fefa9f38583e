"""The executor with scripted providers, a frozen clock and no real sleeping."""

from __future__ import annotations

import asyncio

import pytest

from adapters.memory.breaker_store import InMemoryBreakerStore
from application.execution import Attempts, Executor
from domain.breaker import BreakerPolicy
from domain.errors import UpstreamError, UpstreamRejected, UpstreamTimeout
from domain.fallback import FallbackPolicy
from tests.clock import FrozenClock


class Script:
    """Each target fails the given number of times with the given error, then answers."""

    def __init__(self, **failures: tuple[int, UpstreamError]) -> None:
        self.failures = dict(failures)
        self.calls: list[str] = []

    async def __call__(self, target: str) -> str:
        self.calls.append(target)
        count, error = self.failures.get(target, (0, UpstreamError("x")))
        if count:
            self.failures[target] = (count - 1, error)
            raise error
        return f"answer from {target}"


def make(clock: FrozenClock, sleeps: list[float], failure_threshold: int = 2) -> tuple[Executor, InMemoryBreakerStore]:
    store = InMemoryBreakerStore()

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.t += seconds

    policy = BreakerPolicy(failure_threshold=failure_threshold, success_threshold=1, open_timeout_s=30)
    return Executor(store, policy, clock, sleep=sleep, jitter=lambda: 0.0), store


SEQ = FallbackPolicy(mode="sequential", max_retries=1, backoff_s=0.1, timeout_s=60)


async def test_retries_then_falls_back_then_succeeds() -> None:
    clock, sleeps = FrozenClock(), []
    executor, _ = make(clock, sleeps, failure_threshold=5)
    script = Script(a=(5, UpstreamError("boom", status=500)))
    attempts = Attempts()
    target, result = await executor.run(["a", "b"], script, SEQ, str, attempts)
    assert (target, result) == ("b", "answer from b")
    assert script.calls == ["a", "a", "b"]
    assert sleeps == [0.05]
    assert attempts.tried == ["a", "a", "b"]


async def test_retry_after_is_honoured() -> None:
    clock, sleeps = FrozenClock(), []
    executor, _ = make(clock, sleeps)
    script = Script(a=(1, UpstreamError("slow down", status=429, retry_after=2.0)))
    assert (await executor.run(["a"], script, SEQ, str))[0] == "a"
    assert sleeps == [2.0]


async def test_request_errors_stop_without_fallback_or_breaker_blame() -> None:
    clock, sleeps = FrozenClock(), []
    executor, store = make(clock, sleeps, failure_threshold=1)
    script = Script(a=(1, UpstreamRejected("bad schema", status=400)))
    with pytest.raises(UpstreamRejected):
        await executor.run(["a", "b"], script, SEQ, str)
    assert script.calls == ["a"]
    assert (await store.snapshots())["a"].state == "closed"


async def test_open_breaker_is_skipped_without_a_call() -> None:
    clock, sleeps = FrozenClock(), []
    executor, store = make(clock, sleeps, failure_threshold=2)
    script = Script(a=(100, UpstreamError("down", status=503)))
    no_retry = FallbackPolicy(max_retries=0, timeout_s=60)
    await executor.run(["a", "b"], script, no_retry, str)
    await executor.run(["a", "b"], script, no_retry, str)
    assert (await store.snapshots())["a"].state == "open"
    script.calls.clear()
    attempts = Attempts()
    await executor.run(["a", "b"], script, no_retry, str, attempts)
    assert script.calls == ["b"]
    assert attempts.skipped_open == ["a"]
    clock.t += 31  # after the cool-down one probe goes through again
    script.failures["a"] = (0, UpstreamError("x"))
    assert (await executor.run(["a", "b"], script, no_retry, str))[0] == "a"
    assert (await store.snapshots())["a"].state == "closed"


async def test_all_failed_raises_the_last_error() -> None:
    clock, sleeps = FrozenClock(), []
    executor, _ = make(clock, sleeps, failure_threshold=10)
    script = Script(a=(9, UpstreamError("a down", status=500)), b=(9, UpstreamError("b down", status=502)))
    with pytest.raises(UpstreamError, match="b down"):
        await executor.run(["a", "b"], script, FallbackPolicy(max_retries=0), str)


async def test_overall_timeout_bounds_everything() -> None:
    executor = Executor(InMemoryBreakerStore(), BreakerPolicy(), FrozenClock())

    async def hang(target: str) -> str:
        await asyncio.Event().wait()  # never answers: only the executor's 50 ms bound ends it
        return "never"

    with pytest.raises(UpstreamTimeout):
        await executor.run(["a", "b"], hang, FallbackPolicy(timeout_s=0.05), str)


async def test_race_returns_first_success_and_cancels_and_discards_losers() -> None:
    executor = Executor(InMemoryBreakerStore(), BreakerPolicy(), FrozenClock())
    cancelled: list[str] = []
    discarded: list[object] = []

    async def call(target: str) -> str:
        try:
            if target == "slow":
                await asyncio.Event().wait()  # never answers: it can only be cancelled
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            cancelled.append(target)
            raise
        return target

    async def discard(result: object) -> None:
        discarded.append(result)

    policy = FallbackPolicy(mode="race", race_width=3, timeout_s=5)
    target, result = await executor.run(["slow", "fast", "also"], call, policy, str, discard=discard)
    assert target in ("fast", "also") and result == target
    assert cancelled == ["slow"]
    assert len(discarded) <= 1 and result not in discarded


async def test_race_falls_back_to_the_rest_when_all_runners_fail() -> None:
    clock, sleeps = FrozenClock(), []
    executor, _ = make(clock, sleeps, failure_threshold=10)
    script = Script(a=(9, UpstreamError("a", status=500)), b=(9, UpstreamError("b", status=500)))
    policy = FallbackPolicy(mode="race", race_width=2, max_retries=0, timeout_s=5)
    assert (await executor.run(["a", "b", "c"], script, policy, str))[0] == "c"


async def test_the_gateways_own_provider_limit_moves_on_without_waiting() -> None:
    from domain.errors import ProviderRateLimited

    clock, sleeps = FrozenClock(), []
    executor, store = make(clock, sleeps, failure_threshold=1)
    script = Script(a=(1, ProviderRateLimited("local limit", provider="a", retry_after=60)))
    assert (await executor.run(["a", "b"], script, SEQ, str))[0] == "b"
    assert sleeps == [] and script.calls == ["a", "b"]
    assert "a" not in await store.snapshots() or (await store.snapshots())["a"].state == "closed"


class Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def observe(self, record: object) -> None:
        return None

    def breaker_changed(self, key: str, before: str, after: str) -> None:
        self.events.append(("breaker", key, before, after))

    def attempt_failed(self, key: str, reason: str) -> None:
        self.events.append(("failed", key, reason))


async def test_breaker_transitions_and_failed_attempts_reach_the_observers(caplog: pytest.LogCaptureFixture) -> None:
    from domain.telemetry import Observers

    clock, heard = FrozenClock(), Heard()
    policy = BreakerPolicy(failure_threshold=1, success_threshold=1, open_timeout_s=30)
    executor = Executor(InMemoryBreakerStore(), policy, clock, jitter=lambda: 0.0, observers=Observers([heard]))
    once = FallbackPolicy(mode="sequential", max_retries=0, backoff_s=0.1, timeout_s=60)
    script = Script(a=(5, UpstreamError("boom", status=500, retryable=True)))
    with caplog.at_level("WARNING", "application.execution"):
        assert (await executor.run(["a", "b"], script, once, str, Attempts()))[0] == "b"
        assert (await executor.run(["a", "b"], script, once, str, Attempts()))[0] == "b"  # a is open: skipped
    assert heard.events == [("failed", "a", "upstream"), ("breaker", "a", "closed", "open"),
                            ("failed", "a", "breaker_open")]
    assert [r.getMessage() for r in caplog.records] == [
        "circuit breaker a: closed -> open (calls skip it until it cools down)"]  # logged once
