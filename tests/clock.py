"""A clock for tests: time stands still until the test moves it (`clock.t += seconds`)."""

from __future__ import annotations


class FrozenClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t
