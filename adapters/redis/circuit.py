"""A small circuit for Redis itself: after a failure, callers use their local fallback for
`retry_after_s` seconds instead of paying a timeout per request, then Redis is tried again."""

from __future__ import annotations

import logging

from domain.ports import Clock

log = logging.getLogger(__name__)


class RedisCircuit:
    def __init__(self, clock: Clock, retry_after_s: float = 5.0, what: str = "redis") -> None:
        self._clock = clock
        self._retry_after_s = retry_after_s
        self._what = what
        self._down_until: float | None = None
        self.last_error = ""

    def usable(self) -> bool:
        return self._down_until is None or self._clock.monotonic() >= self._down_until

    @property
    def degraded(self) -> bool:
        return self._down_until is not None

    def failed(self, exc: BaseException) -> None:
        if self._down_until is None:
            log.warning("%s: redis unreachable (%s), using local state", self._what, type(exc).__name__)
        self.last_error = type(exc).__name__
        self._down_until = self._clock.monotonic() + self._retry_after_s

    def answered(self) -> None:
        if self._down_until is not None:
            log.info("%s: redis answers again, back to shared state", self._what)
        self._down_until = None
