"""The breaker transition history: fed by the executor, each transition once, bounded."""

from __future__ import annotations

from adapters.memory.breaker_store import InMemoryBreakerStore
from application.breaker_history import BreakerHistory
from application.execution import Attempts, Executor
from domain.breaker import BreakerPolicy
from domain.errors import CircuitOpen, UpstreamError
from domain.fallback import FallbackPolicy
from tests.clock import FrozenClock

POLICY = BreakerPolicy(failure_threshold=2, success_threshold=1, open_timeout_s=10, half_open_max_probes=1)
ONCE = FallbackPolicy(mode="sequential", max_retries=0, backoff_s=0.0, timeout_s=60)


class Upstream:
    """Fails while `failing` is true, else answers its own name."""

    def __init__(self) -> None:
        self.failing = True

    async def __call__(self, target: str) -> str:
        if self.failing:
            raise UpstreamError("boom", status=500, retryable=True, provider=target)
        return target


async def call(executor: Executor, upstream: Upstream, *targets: str) -> str | None:
    try:
        return (await executor.run(list(targets), upstream, ONCE, str, Attempts()))[1]
    except (UpstreamError, CircuitOpen):
        return None


async def test_each_state_change_is_recorded_once_newest_first() -> None:
    clock, history, upstream = FrozenClock(), BreakerHistory(), Upstream()
    executor = Executor(InMemoryBreakerStore(), POLICY, clock, jitter=lambda: 0.0, history=history)
    clock.t = 100.0
    await call(executor, upstream, "p")
    clock.t = 101.0
    await call(executor, upstream, "p")  # the second failure opens the breaker
    clock.t = 102.0
    await call(executor, upstream, "p")  # open: skipped, no new transition
    clock.t = 112.5  # past the open timeout: a probe goes through and succeeds
    upstream.failing = False
    assert await call(executor, upstream, "p") == "p"
    assert [(t.key, t.from_state, t.to_state, t.at) for t in history.newest()] == [
        ("p", "open", "closed", 112.5), ("p", "closed", "open", 101.0)]


async def test_the_history_keeps_only_the_newest() -> None:
    history, upstream = BreakerHistory(size=3), Upstream()
    executor = Executor(InMemoryBreakerStore(), POLICY, FrozenClock(), jitter=lambda: 0.0, history=history)
    for i in range(5):
        await call(executor, upstream, f"p{i}")
        await call(executor, upstream, f"p{i}")
    assert [t.key for t in history.newest()] == ["p4", "p3", "p2"]
