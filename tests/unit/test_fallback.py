from __future__ import annotations

import pytest

from domain.fallback import FallbackPolicy, backoff_delay, candidates, next_step

POLICY = FallbackPolicy(max_retries=2, backoff_s=0.1, max_backoff_s=1.0, max_candidates=3)


def test_candidates_respect_mode_manual_and_limit() -> None:
    targets = ["a", "b", "c", "d"]
    assert candidates(targets, POLICY, manual=False, manual_may_fall_back=False) == ["a", "b", "c"]
    assert candidates(targets, POLICY, manual=True, manual_may_fall_back=False) == ["a"]
    assert candidates(targets, POLICY, manual=True, manual_may_fall_back=True) == ["a", "b", "c"]
    off = FallbackPolicy(mode="off")
    assert candidates(targets, off, manual=False, manual_may_fall_back=True) == ["a"]
    assert candidates([], POLICY, manual=False, manual_may_fall_back=False) == []


@pytest.mark.parametrize(("attempt", "jitter", "expected"), [(1, 0.0, 0.05), (1, 0.999999, 0.1), (2, 0.0, 0.1),
                                                            (5, 0.0, 0.5), (9, 0.999999, 1.0)])
def test_backoff_is_exponential_jittered_and_capped(attempt: int, jitter: float, expected: float) -> None:
    assert backoff_delay(attempt, POLICY, retry_after=None, jitter=jitter) == pytest.approx(expected, rel=1e-5)


def test_retry_after_is_a_floor() -> None:
    assert backoff_delay(1, POLICY, retry_after=3.0, jitter=0.5) == 3.0


def test_next_step() -> None:
    assert next_step(retryable=False, attempt=1, policy=POLICY, wait_s=0.1, remaining_s=10) == "stop"
    assert next_step(retryable=True, attempt=1, policy=POLICY, wait_s=0.1, remaining_s=10) == "retry"
    assert next_step(retryable=True, attempt=3, policy=POLICY, wait_s=0.1, remaining_s=10) == "next"
    # a wait longer than the time left moves on instead of sleeping past the deadline
    assert next_step(retryable=True, attempt=1, policy=POLICY, wait_s=5, remaining_s=1) == "next"
    assert next_step(retryable=True, attempt=1, policy=POLICY, wait_s=0.1, remaining_s=0) == "stop"
