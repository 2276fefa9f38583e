"""Time, one way: every service takes the `Clock` port (domain/ports.py) and reads it here.

`SystemClock` is the real one (the container injects it; it is also the default when a caller
builds a service by hand); tests inject `tests/clock.FrozenClock`. Wall time as a UTC datetime is
`utc(clock)`, durations are differences of `clock.monotonic()`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from domain.ports import Clock


class SystemClock:
    # The builtins themselves (no Python frame per reading: the request path reads the clock
    # about a dozen times). perf_counter is monotonic and fine-grained enough for sub-ms durations.
    now = staticmethod(time.time)
    monotonic = staticmethod(time.perf_counter)


SYSTEM_CLOCK: Clock = SystemClock()


def utc(clock: Clock) -> datetime:
    """The clock's wall time as an aware UTC datetime."""
    return datetime.fromtimestamp(clock.now(), UTC)
