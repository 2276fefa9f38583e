"""Recent breaker transitions for the dashboard's Providers page: a bounded history.

`RecordingBreakerStore` wraps the configured `BreakerStore` and, whenever a result recorded
through it comes back in another state than the last one this process saw for that key, appends
a `Transition` to the `BreakerHistory` (oldest dropped past `size`). It costs one dict lookup per
recorded result and no I/O on the request path. `BreakerHistory` is per process; with Redis,
`adapters/redis/breaker_history.py` also copies each transition to a bounded shared list in the
background, so every instance's page shows every instance's transitions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

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


class TransitionLog(Protocol):
    def add(self, transition: Transition) -> None:
        """Called on the request path: must not wait for I/O."""
        ...

    async def recent(self) -> list[Transition]:
        """Newest first, at most the log's size."""
        ...


def from_dict(data: dict[str, Any]) -> Transition:
    return Transition(str(data["key"]), str(data["from"]), str(data["to"]), float(data["at"]), int(data["failures"]))


class BreakerHistory:
    def __init__(self, size: int = 100) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._items: deque[Transition] = deque(maxlen=size)

    def add(self, transition: Transition) -> None:
        self._items.append(transition)

    @property
    def size(self) -> int:
        return self._items.maxlen or 0

    def newest(self) -> list[Transition]:
        return list(reversed(self._items))

    async def recent(self) -> list[Transition]:
        return self.newest()


class RecordingBreakerStore:
    """A `BreakerStore` that tells `history` about the state changes it sees."""

    def __init__(self, inner: BreakerStore, history: TransitionLog) -> None:
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
