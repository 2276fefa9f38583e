"""Recent breaker transitions for the dashboard's Providers page: a bounded history.

The executor (application/execution.py) is the one place a transition is detected: when a result
it records comes back in another state than the last one this process saw for that key, it hands
a `Transition` to the `TransitionLog` (here `BreakerHistory`, oldest dropped past `size`). That
costs no I/O on the request path. `BreakerHistory` is per process; with Redis,
`adapters/redis/breaker_history.py` also copies each transition to a bounded shared list in the
background, so every instance's page shows every instance's transitions."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol


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
