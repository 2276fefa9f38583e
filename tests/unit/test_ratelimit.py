"""GCRA arithmetic (domain/ratelimit.py) and the in-memory limiter."""

from __future__ import annotations

import pytest

from adapters.memory.rate_limiter import InMemoryRateLimiter
from domain.ratelimit import MICROS, gcra

S = MICROS


def test_a_full_minute_of_burst_then_one_per_interval() -> None:
    tat = None
    for _ in range(3):
        decision, tat = gcra(tat, 100 * S, limit=3)
        assert decision.allowed
    refused, unchanged = gcra(tat, 100 * S, limit=3)
    assert not refused.allowed and unchanged is None
    assert refused.retry_after == pytest.approx(20.0)
    later, _ = gcra(tat, 120 * S, limit=3)
    assert later.allowed


def test_an_idle_bucket_refills() -> None:
    decision, tat = gcra(None, 0, limit=1)
    assert decision.allowed
    assert not gcra(tat, 59 * S, limit=1)[0].allowed
    assert gcra(tat, 60 * S, limit=1)[0].allowed


@pytest.mark.parametrize("now", [0, 12_345_678_901, 1_732_000_000 * S + 123_457])
def test_a_first_request_is_always_admitted_whatever_the_clock(now: int) -> None:
    assert gcra(None, now, limit=1)[0].allowed


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        gcra(None, 0, limit=0)


async def test_in_memory_limiter_keeps_buckets_apart() -> None:
    now = [0.0]
    limiter = InMemoryRateLimiter(clock=lambda: now[0])
    assert [(await limiter.acquire("a", 2)).allowed for _ in range(3)] == [True, True, False]
    assert (await limiter.acquire("b", 2)).allowed
    now[0] = 30.0
    assert (await limiter.acquire("a", 2)).allowed
