"""The breaker transition history: fed by results recorded through the wrapping store, bounded."""

from __future__ import annotations

import asyncio

from adapters.memory.breaker_store import InMemoryBreakerStore
from application.breaker_history import BreakerHistory, RecordingBreakerStore
from domain.breaker import BreakerPolicy

POLICY = BreakerPolicy(failure_threshold=2, success_threshold=1, open_timeout_s=10, half_open_max_probes=1)


def test_each_state_change_is_recorded_once_newest_first() -> None:
    history = BreakerHistory()
    store = RecordingBreakerStore(InMemoryBreakerStore(), history)

    async def run() -> None:
        await store.record("p", False, POLICY, 100.0)
        await store.record("p", False, POLICY, 101.0)  # second failure: open
        await store.record("p", False, POLICY, 102.0)  # still open: no new transition
        assert await store.admit("p", POLICY, 112.0)  # the open timeout passed: a probe
        await store.record("p", True, POLICY, 112.5)  # the probe succeeded: closed

    asyncio.run(run())
    assert [(t.key, t.from_state, t.to_state, t.at) for t in history.newest()] == [
        ("p", "open", "closed", 112.5), ("p", "closed", "open", 101.0)]


def test_the_history_keeps_only_the_newest() -> None:
    history = BreakerHistory(size=3)
    store = RecordingBreakerStore(InMemoryBreakerStore(), history)

    async def run() -> None:
        for i in range(5):
            await store.record(f"p{i}", False, POLICY, float(i))
            await store.record(f"p{i}", False, POLICY, float(i))

    asyncio.run(run())
    assert [t.key for t in history.newest()] == ["p4", "p3", "p2"]
