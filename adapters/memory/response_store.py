"""Stored Responses API answers in this process: the embedded default (see `ResponseStore`)."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from domain.ports import Clock


class InMemoryResponseStore:
    """Insertion-ordered entries with one TTL; nothing awaits, so each call is atomic on a loop."""

    def __init__(self, clock: Clock, ttl_s: float = 86_400, max_entries: int = 10_000) -> None:
        self._clock = clock
        self._ttl = ttl_s
        self._max = max_entries
        self._entries: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()

    async def put(self, response_id: str, document: Mapping[str, Any]) -> None:
        self._entries.pop(response_id, None)
        self._entries[response_id] = (self._clock.monotonic() + self._ttl, copy.deepcopy(dict(document)))
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    async def get(self, response_id: str) -> dict[str, Any] | None:
        found = self._entries.get(response_id)
        if found is None:
            return None
        if found[0] <= self._clock.monotonic():
            del self._entries[response_id]
            return None
        return copy.deepcopy(found[1])

    async def delete(self, response_id: str) -> bool:
        found = self._entries.pop(response_id, None)
        return found is not None and found[0] > self._clock.monotonic()
