"""Sliding-window rate limits: at most `limit` admitted requests in any `period`.

"20 requests per minute" means exactly that: for every instant `a`, at most 20 requests admitted
in `[a, a + 60 s)`. A bucket remembers the times of the requests it admitted during the last
`period` (at most `limit` of them); a request is admitted when fewer than `limit` remain, and a
refusal's `retry_after` is the time until the oldest one that must leave does. A full burst is
allowed, but it is then spent for a whole period (unlike GCRA, whose burst plus refill admitted
up to 2 × limit in the first minute).

Times are integer microseconds, so the arithmetic is exact. The Redis adapter runs the same rule
in Lua (a sorted set per bucket); the in-memory adapter calls `sliding_window`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: float = 0.0  # seconds until one more request would be allowed


ALLOWED = RateDecision(True)


def sliding_window(admitted: deque[int], now: int, limit: int, period: int = 60 * MICROS) -> RateDecision:
    """Decide one request at `now` and update `admitted` (ascending admission times) in place:
    times at or before `now - period` leave it; an admitted request's time joins it."""
    if limit <= 0:
        raise ValueError("a rate limit must be positive")
    while admitted and admitted[0] <= now - period:
        admitted.popleft()
    if len(admitted) >= limit:
        # The request is admitted once all but limit - 1 of the remembered times have left.
        leaves_at = admitted[len(admitted) - limit] + period
        return RateDecision(False, (leaves_at - now) / MICROS)
    admitted.append(now)
    return ALLOWED
