"""Breaker state in this process: the embedded default, and the Redis store's local fallback."""

from __future__ import annotations

from domain.breaker import CLOSED, BreakerPolicy, BreakerSnapshot, admit, record_failure, record_success


class InMemoryBreakerStore:
    # Each method runs without awaiting, so on one event loop every transition is atomic.

    def __init__(self) -> None:
        self._state: dict[str, BreakerSnapshot] = {}

    async def admit(self, key: str, policy: BreakerPolicy, now: float) -> bool:
        return self.admit_now(key, policy, now)

    def admit_now(self, key: str, policy: BreakerPolicy, now: float) -> bool:
        allowed, snap = admit(self._state.get(key, CLOSED), policy, now)
        self._state[key] = snap
        return allowed

    async def record(self, key: str, success: bool, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
        return self.record_now(key, success, policy, now)

    def record_now(self, key: str, success: bool, policy: BreakerPolicy, now: float) -> BreakerSnapshot:
        current = self._state.get(key, CLOSED)
        snap = record_success(current, policy, now) if success else record_failure(current, policy, now)
        self._state[key] = snap
        return snap

    async def snapshot(self, key: str) -> BreakerSnapshot:
        return self._state.get(key, CLOSED)

    async def snapshots(self) -> dict[str, BreakerSnapshot]:
        return dict(self._state)

    def status(self) -> dict[str, object]:
        return {"store": "memory"}
