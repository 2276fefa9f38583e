"""Fallback rules: which candidate next, whether to retry, how long to wait, when to give up.

Pure decisions; the application layer performs the calls and the waiting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeVar

T = TypeVar("T")
Mode = Literal["sequential", "race", "off"]


@dataclass(frozen=True, slots=True)
class FallbackPolicy:
    mode: Mode = "sequential"
    max_retries: int = 1  # extra tries of the same candidate after a retryable failure
    backoff_s: float = 0.1
    max_backoff_s: float = 2.0
    timeout_s: float = 120.0  # total budget: every try, wait and fallback included
    race_width: int = 2
    max_candidates: int = 3


def candidates(targets: list[T], policy: FallbackPolicy, *, manual: bool, manual_may_fall_back: bool) -> list[T]:
    """The targets to try, in order. `off`, or a manual choice that may not fall back, is one."""
    if not targets:
        return []
    if policy.mode == "off" or (manual and not manual_may_fall_back):
        return targets[:1]
    return targets[: policy.max_candidates]


def backoff_delay(attempt: int, policy: FallbackPolicy, *, retry_after: float | None, jitter: float) -> float:
    """Seconds to wait before retry number `attempt` (1-based) of the same candidate.

    Exponential with equal jitter: half the exponential ceiling is fixed, the other half scaled
    by `jitter` (a random number in [0, 1) supplied by the caller), so the delay is in
    [ceiling/2, ceiling). A provider's Retry-After is honoured as a floor.
    """
    ceiling = min(policy.max_backoff_s, policy.backoff_s * float(2 ** (attempt - 1)))
    delay = ceiling * (0.5 + jitter / 2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay


def next_step(*, retryable: bool, attempt: int, policy: FallbackPolicy, wait_s: float,
              remaining_s: float) -> Literal["retry", "next", "stop"]:
    """After a failure of try number `attempt` (1-based) of a candidate: what now?

    A failure the request caused (not retryable) stops everything: another provider would
    refuse it too. A retryable one is retried while retries and time allow, else the next
    candidate is tried.
    """
    if not retryable:
        return "stop"
    if remaining_s <= 0:
        return "stop"
    if attempt <= policy.max_retries and wait_s < remaining_s:
        return "retry"
    return "next"
