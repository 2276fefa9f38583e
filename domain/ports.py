"""Every port the core needs, in one place: read this module as the table of contents.

Ports are async and speak domain types only. Each has an in-memory adapter that is a real
implementation (the embedded default) and a contract test suite shared by all its adapters.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from domain.breaker import BreakerPolicy, BreakerSnapshot
from domain.chat import ChatRequest, ChatResponse, StreamEvent


@runtime_checkable
class ChatProvider(Protocol):
    """One upstream LLM provider reached through its own wire protocol.

    `complete` and `stream` raise `domain.errors.UpstreamError` (or a subclass) on failure and
    never return SDK objects. `stream` yields one StreamStart, deltas, then one StreamEnd.
    """

    name: str
    kind: str

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse: ...

    def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]: ...

    async def count_tokens(self, request: ChatRequest, model: str) -> int: ...

    async def aclose(self) -> None: ...


class Clock(Protocol):
    """Wall time in seconds since the epoch, and a monotonic time for durations."""

    def now(self) -> float: ...

    def monotonic(self) -> float: ...


class BreakerStore(Protocol):
    """Breaker state per key (a provider, or provider:model), changed atomically.

    Implementations apply `domain.breaker` rules; a shared store (Redis) makes every gateway
    instance see the same state. A store whose backend is unreachable degrades to local state
    and reports it in `status()` rather than failing requests.
    """

    async def admit(self, key: str, policy: BreakerPolicy, now: float) -> bool: ...

    async def record(self, key: str, success: bool, policy: BreakerPolicy, now: float) -> BreakerSnapshot: ...

    async def snapshots(self) -> dict[str, BreakerSnapshot]: ...

    def status(self) -> dict[str, object]: ...
