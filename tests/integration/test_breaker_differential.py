"""The breaker exists twice: `domain.breaker` (used by the in-memory store) and the Redis Lua scripts.

Random event sequences (admit = a call or half-open probe asking to go through, success, failure,
time moving on) run through the pure domain functions, the in-memory store and the Redis store;
after every event the decision, the returned snapshot and the stored snapshot must be identical.
Seeded and derandomized, so a run is reproducible; bounded to a few hundred short sequences.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
import redis.asyncio as redis_asyncio
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.redis.breaker_store import RedisBreakerStore
from domain.breaker import CLOSED, BreakerPolicy, BreakerSnapshot, admit, record_failure, record_success

policies = st.builds(
    BreakerPolicy,
    failure_threshold=st.integers(1, 4),
    success_threshold=st.integers(1, 3),
    open_timeout_s=st.sampled_from([1.0, 2.5, 10.0]),
    half_open_max_probes=st.integers(1, 3),
)
# Time moves on in multiples of the policy's open timeout: a little, just under, exactly, past it.
events = st.sampled_from([("admit", 0.0), ("success", 0.0), ("failure", 0.0),
                          ("advance", 0.0), ("advance", 0.25), ("advance", 0.999), ("advance", 1.0),
                          ("advance", 1.5), ("advance", 3.0)])
scenarios = st.tuples(policies, st.floats(0, 10_000, allow_nan=False).map(lambda t: round(t, 3)),
                      st.lists(events, min_size=10, max_size=60))


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def test_domain_memory_and_redis_agree(redis_url: tuple[str, str], loop: asyncio.AbstractEventLoop) -> None:
    url, prefix = redis_url
    client = redis_asyncio.Redis.from_url(url)
    names = (f"k{i}" for i in itertools.count())
    seen: set[tuple[str, str, str]] = set()  # (state before, event, state after) over all examples

    async def run(policy: BreakerPolicy, start: float, sequence: list[tuple[str, float]]) -> None:
        key = next(names)  # a fresh breaker per example
        memory, redis_store = InMemoryBreakerStore(), RedisBreakerStore(client, prefix=prefix)
        snap: BreakerSnapshot = CLOSED
        now = start
        for step, (kind, dt) in enumerate(sequence):
            where = f"step {step} {kind} at t={now} in {sequence} with {policy}"
            if kind == "advance":
                now += dt * policy.open_timeout_s
                continue
            before = snap.state
            if kind == "admit":
                allowed, snap = admit(snap, policy, now)
                assert await memory.admit(key, policy, now) == allowed, where
                assert await redis_store.admit(key, policy, now) == allowed, where
            else:
                success = kind == "success"
                snap = record_success(snap, policy, now) if success else record_failure(snap, policy, now)
                assert await memory.record(key, success, policy, now) == snap, where
                assert await redis_store.record(key, success, policy, now) == snap, where
            seen.add((before, kind, snap.state))
            assert await memory.snapshot(key) == snap, where
            assert await redis_store.snapshot(key) == snap, where
            assert redis_store.status()["degraded"] is False  # a Redis error must not hide behind local state

    @seed(20261202)
    @settings(max_examples=300, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios)
    def check(scenario: tuple[BreakerPolicy, float, list[tuple[str, float]]]) -> None:
        loop.run_until_complete(run(*scenario))

    try:
        check()
    finally:
        loop.run_until_complete(client.aclose())
    # The sequences must have exercised every transition, or agreement would prove little.
    assert {("closed", "failure", "open"), ("open", "admit", "open"), ("open", "admit", "half_open"),
            ("half_open", "admit", "half_open"), ("half_open", "success", "half_open"),
            ("half_open", "success", "closed"), ("half_open", "failure", "open"),
            ("closed", "success", "closed"), ("open", "success", "open")} <= seen
