"""One circuit per Redis client, shared by every store of that client (breakers, caches, rate
limits, stored responses, breaker history, traffic buckets).

The first store whose call fails (Redis down, or frozen past the client's short socket timeout)
opens it: from then on every store serves from its local fallback at once, with no Redis round
trip and no timeout per request. While it is open, a background PING (at most one every
`retry_after_s`, started by the next caller that finds the circuit open) asks Redis again; the
first answer closes it and every store is back on the shared state. Requests never wait for the
probe.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError

from domain.ports import Clock

log = logging.getLogger(__name__)

# What a store's Redis call may raise when Redis is unreachable, frozen or refusing: each store
# catches these, reports them to the circuit and answers from its local state.
UNREACHABLE: tuple[type[BaseException], ...] = (RedisError, OSError)


class CircuitOpen(RedisError):
    """Raised instead of calling Redis while the circuit is open (for callers that handle a
    Redis failure themselves, e.g. the shared traffic copy)."""


class RedisCircuit:
    def __init__(self, clock: Clock, ping: Callable[[], Awaitable[Any]], retry_after_s: float = 1.0) -> None:
        self._clock = clock
        self._ping = ping
        self._retry_after_s = retry_after_s
        self._down_since: float | None = None  # wall time of the trip, None while closed
        self._next_probe = 0.0  # monotonic time before which no probe starts
        self._probe: asyncio.Task[bool] | None = None
        self.last_error = ""

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def usable(self) -> bool:
        """Whether to call Redis now. While open: False (and a probe is started if one is due)."""
        if self._down_since is None:
            return True
        self._start_probe()
        return False

    def check(self) -> None:
        """Raise `CircuitOpen` unless Redis may be called now."""
        if not self.usable():
            raise CircuitOpen(f"redis skipped while unreachable ({self.last_error})")

    def failed(self, exc: BaseException) -> None:
        self.last_error = type(exc).__name__
        if self._down_since is None:
            log.warning("redis unreachable (%s): every Redis-backed store uses local state", self.last_error)
            self._down_since = self._clock.now()
            self._next_probe = self._clock.monotonic() + self._retry_after_s

    def answered(self) -> None:
        if self._down_since is not None:
            log.info("redis answers again: back to shared state")
        self._down_since = None

    async def probe(self) -> bool:
        """PING Redis once; close the circuit if it answers, keep it open (and say why) if not."""
        try:
            await self._ping()
        except UNREACHABLE as exc:
            self.failed(exc)
            self._next_probe = self._clock.monotonic() + self._retry_after_s
            return False
        self.answered()
        return True

    async def settle(self) -> None:
        """Wait for the probe in flight, if any (tests; shutdown)."""
        if self._probe is not None:
            await asyncio.gather(self._probe, return_exceptions=True)

    def status(self) -> dict[str, Any]:
        """The `redis` component of /health: shared, or degraded with the reason and since when."""
        if self._down_since is None:
            return {"mode": "redis"}
        return {"status": "degraded", "degraded": True,
                "mode": "local fallback (every Redis-backed store uses this instance's own state)",
                "reason": f"redis unreachable: {self.last_error}",
                "down_since": datetime.fromtimestamp(self._down_since, UTC).isoformat()}

    def _start_probe(self) -> None:
        if self._probe is not None and not self._probe.done():
            return
        now = self._clock.monotonic()
        if now < self._next_probe:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a synchronous caller): the next async caller probes
            return
        self._next_probe = now + self._retry_after_s
        self._probe = loop.create_task(self.probe())
