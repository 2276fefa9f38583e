"""GCRA (generic cell rate algorithm): `limit` requests per `period`, bursts up to `limit`.

State is one number per bucket, the theoretical arrival time (TAT), in integer microseconds so
that the arithmetic is exact (with floats, `now + 60 - 60` can exceed `now` and refuse a first
request). The Redis adapter runs the same arithmetic in Lua; the in-memory adapter calls `gcra`.
"""

from __future__ import annotations

from dataclasses import dataclass

MICROS = 1_000_000


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: float = 0.0  # seconds until one more request would be allowed


ALLOWED = RateDecision(True)


def gcra(tat: int | None, now: int, limit: int, period: int = 60 * MICROS) -> tuple[RateDecision, int | None]:
    """(decision, new TAT), times in microseconds. The TAT is unchanged (None) on a refusal."""
    if limit <= 0:
        raise ValueError("a rate limit must be positive")
    interval = max(1, period // limit)
    start = now if tat is None or tat < now else tat
    new_tat = start + interval
    allow_at = new_tat - period
    if now < allow_at:
        return RateDecision(False, (allow_at - now) / MICROS), None
    return ALLOWED, new_tat
