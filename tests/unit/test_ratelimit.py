"""The sliding-window rule (domain/ratelimit.py) and the in-memory limiter."""

from __future__ import annotations

import bisect
import random
from collections import deque

import pytest

from adapters.memory.rate_limiter import InMemoryRateLimiter
from domain.ratelimit import MICROS, sliding_window
from tests.clock import FrozenClock

S = MICROS
MINUTE = 60 * S


def test_twenty_per_minute_admits_twenty_in_the_first_minute_not_thirty_nine() -> None:
    """The issue's case: a burst of 20, then one request every 3 s, for a minute."""
    bucket: deque[int] = deque()
    arrivals = [0] * 25 + [k * 3 * S for k in range(1, 20)]
    admitted = [t for t in arrivals if sliding_window(bucket, t, limit=20).allowed]
    assert len(admitted) == 20
    assert sliding_window(bucket, 59 * S, limit=20).retry_after == pytest.approx(1.0)
    assert sliding_window(bucket, MINUTE, limit=20).allowed  # the burst's times have left


def test_a_refusal_says_when_the_next_request_is_admitted() -> None:
    bucket: deque[int] = deque()
    for t in (0, 10 * S, 20 * S):
        assert sliding_window(bucket, t, limit=3).allowed
    refused = sliding_window(bucket, 30 * S, limit=3)
    assert not refused.allowed and refused.retry_after == pytest.approx(30.0)
    assert list(bucket) == [0, 10 * S, 20 * S]  # a refusal is not remembered
    assert not sliding_window(bucket, MINUTE - 1, limit=3).allowed
    assert sliding_window(bucket, MINUTE, limit=3).allowed


def test_a_lowered_limit_waits_for_enough_times_to_leave() -> None:
    bucket: deque[int] = deque()
    for t in range(5):
        sliding_window(bucket, t * S, limit=5)
    refused = sliding_window(bucket, 5 * S, limit=2)
    assert refused.retry_after == pytest.approx(58.0)  # times 0, 1, 2 must leave; 2 leaves at 62 s


@pytest.mark.parametrize("now", [0, 12_345_678_901, 1_732_000_000 * S + 123_457])
def test_a_first_request_is_always_admitted_whatever_the_clock(now: int) -> None:
    assert sliding_window(deque(), now, limit=1).allowed


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError):
        sliding_window(deque(), 0, limit=0)


@pytest.mark.parametrize("seed", range(40))
def test_property_at_most_limit_in_any_period_and_exact_retry_after(seed: int) -> None:
    """Random limits and arrival patterns (bursts, trickles, idle gaps): the admitted times never
    hold more than `limit` in any half-open window of one period; a request is refused only when
    `limit` were admitted in the period before it; and `retry_after` is exactly the first instant
    at which it would be admitted."""
    rng = random.Random(seed)
    limit = rng.randint(1, 25)
    period = rng.choice([1, 10, 60]) * S
    bucket: deque[int] = deque()
    admitted: list[int] = []
    now = rng.randint(0, 10**12)
    for _ in range(400):
        now += rng.choice([0, 0, rng.randint(1, period // limit + 1), rng.randint(0, 2 * period)])
        probe = deque(bucket)
        decision = sliding_window(bucket, now, limit, period)
        recent = len(admitted) - bisect.bisect_right(admitted, now - period)
        assert decision.allowed == (recent < limit)
        if decision.allowed:
            admitted.append(now)
            continue
        wait = round(decision.retry_after * MICROS)
        assert wait > 0
        assert not sliding_window(deque(probe), now + wait - 1, limit, period).allowed
        assert sliding_window(deque(probe), now + wait, limit, period).allowed
    for i, start in enumerate(admitted):
        assert bisect.bisect_left(admitted, start + period) - i <= limit


async def test_in_memory_limiter_keeps_buckets_apart() -> None:
    clock = FrozenClock(0.0)
    limiter = InMemoryRateLimiter(clock=clock)
    assert [(await limiter.acquire("a", 2)).allowed for _ in range(3)] == [True, True, False]
    assert (await limiter.acquire("b", 2)).allowed
    clock.t = 30.0
    assert not (await limiter.acquire("a", 2)).allowed  # both of "a"'s requests are still in the window
    clock.t = 60.0
    assert (await limiter.acquire("a", 2)).allowed
