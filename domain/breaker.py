"""The circuit-breaker state machine. Pure: time is passed in, nothing sleeps or stores.

closed --(failure_threshold consecutive failures)--> open
open --(open_timeout elapsed)--> half_open, admitting at most `half_open_max_probes` at once
half_open --(success_threshold successes)--> closed;  half_open --(any failure)--> open

Stores (in-memory, Redis) hold a `BreakerSnapshot` per key and apply these functions
atomically; the Redis store runs the same rules in Lua. A contract suite checks both, and a
property-based differential test (tests/integration/test_breaker_differential.py) requires the
domain, in-memory and Redis snapshots to be identical after random event sequences.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    failure_threshold: int = 5
    success_threshold: int = 2
    open_timeout_s: float = 30.0
    half_open_max_probes: int = 1


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: State = "closed"
    failures: int = 0  # consecutive failures while closed
    successes: int = 0  # successes while half-open
    probes: int = 0  # probes admitted and not yet reported while half-open
    changed_at: float = 0.0  # when the state last changed

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "failures": self.failures, "successes": self.successes,
                "probes": self.probes, "changed_at": self.changed_at}


CLOSED = BreakerSnapshot()


def breaker_key(provider: str, model: str, per_model: bool) -> str:
    """The breaker guarding a model: one per provider, or one per provider:model."""
    return f"{provider}:{model}" if per_model else provider


def admit(snap: BreakerSnapshot, policy: BreakerPolicy, now: float) -> tuple[bool, BreakerSnapshot]:
    """May a call go through now? Returns the decision and the state after admitting it."""
    if snap.state == "closed":
        return True, snap
    if snap.state == "open":
        if now - snap.changed_at < policy.open_timeout_s:
            return False, snap
        return True, BreakerSnapshot(state="half_open", probes=1, changed_at=now)
    # half-open: a probe whose caller vanished must not keep the breaker stuck forever.
    probes = 0 if now - snap.changed_at >= policy.open_timeout_s else snap.probes
    if probes >= policy.half_open_max_probes:
        return False, snap
    return True, replace(snap, probes=probes + 1, changed_at=snap.changed_at if probes else now)


def record_success(snap: BreakerSnapshot, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
    if snap.state == "closed":
        return snap if snap.failures == 0 else replace(snap, failures=0)
    if snap.state == "open":
        return snap  # a slow call admitted before the breaker opened says nothing new
    successes = snap.successes + 1
    if successes >= policy.success_threshold:
        return BreakerSnapshot(state="closed", changed_at=now)
    return replace(snap, successes=successes, probes=max(0, snap.probes - 1))


def record_failure(snap: BreakerSnapshot, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
    if snap.state == "closed":
        failures = snap.failures + 1
        if failures >= policy.failure_threshold:
            return BreakerSnapshot(state="open", failures=failures, changed_at=now)
        return replace(snap, failures=failures)
    if snap.state == "open":
        return snap
    return BreakerSnapshot(state="open", failures=snap.failures, changed_at=now)


def is_open(snap: BreakerSnapshot, policy: BreakerPolicy, now: float) -> bool:
    """Open and still cooling down: callers should skip this target without trying."""
    return snap.state == "open" and now - snap.changed_at < policy.open_timeout_s
