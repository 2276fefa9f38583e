"""Recent breaker transitions for the dashboard's Providers page: a bounded history.

`RecordingBreakerStore` wraps the configured `BreakerStore` and, whenever a result recorded
through it comes back in another state than the last one this process saw for that key, appends
a `Transition` to the `BreakerHistory` (oldest dropped past `size`). It costs one dict lookup per
recorded result and no I/O. The history is per process: with a shared (Redis) store, a
transition caused by another instance shows here once this instance records a result for that
key (its state is read back from the shared store with every result)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from domain.breaker import BreakerPolicy, BreakerSnapshot
from domain.ports import BreakerStore


@dataclass(frozen=True, slots=True)
class Transition:
    key: str
    from_state: str
    to_state: str
    at: float  # unix seconds
    failures: int

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "from": self.from_state, "to": self.to_state, "at": self.at,
                "failures": self.failures}


class BreakerHistory:
    def __init__(self, size: int = 100) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._items: deque[Transition] = deque(maxlen=size)

    def add(self, transition: Transition) -> None:
        self._items.append(transition)

    def recent(self) -> list[Transition]:
        """Newest first."""
        return list(reversed(self._items))


class RecordingBreakerStore:
    """A `BreakerStore` that tells `history` about the state changes it sees."""

    def __init__(self, inner: BreakerStore, history: BreakerHistory) -> None:
        self._inner = inner
        self._history = history
        self._last: dict[str, str] = {}

    async def admit(self, key: str, policy: BreakerPolicy, now: float) -> bool:
        return await self._inner.admit(key, policy, now)

    async def record(self, key: str, success: bool, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
        snap = await self._inner.record(key, success, policy, now)
        before = self._last.get(key, "closed")
        if snap.state != before:
            self._last[key] = snap.state
            self._history.add(Transition(key, before, snap.state, snap.changed_at or now, snap.failures))
        return snap

    async def snapshot(self, key: str) -> BreakerSnapshot:
        return await self._inner.snapshot(key)

    async def snapshots(self) -> dict[str, BreakerSnapshot]:
        return await self._inner.snapshots()

    def status(self) -> dict[str, object]:
        return self._inner.status()
