"""What the gateway tells its operators about one finished request, and the port that hears it.

`RequestRecord` is plain data, built once per request when it ends (for a stream: when the
stream ends or is cut) from the outcome the chat use case already has (attempts, selection,
usage). Every telemetry adapter (access log, Prometheus, OpenTelemetry, the dashboard's
in-memory ring) implements `RequestObserver`; none of them may block the request path:
`observe` is called after the response is sent and must be constant-time (hand work to a
queue or update counters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


@dataclass(frozen=True, slots=True)
class RequestRecord:
    request_id: str
    family: str  # openai | anthropic | gemini | responses | embeddings
    route: str  # the path served (no query string), e.g. /v1/chat/completions; the endpoint name in the library
    status: int  # HTTP status sent to the client (200 for a stream that started)
    outcome: str = "success"  # success | error | cancelled
    error_kind: str | None = None  # domain error kind when outcome is error
    streamed: bool = False
    key_id: int | None = None  # never the key itself
    organization_id: str | None = None
    selection_source: str | None = None  # router | cache | manual | external | ...
    provider: str | None = None  # provider that served the request
    model: str | None = None  # model that served the request
    requested_model: str | None = None
    attempts: tuple[str, ...] = ()  # "provider:model" tried, in order
    fallbacks: int = 0  # attempts after the first
    total_ms: float = 0.0
    upstream_ms: float = 0.0  # time spent waiting on upstreams
    ttft_ms: float | None = None  # time to first token, streams only
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: Decimal | None = None
    best_cost_usd: Decimal | None = None  # same tokens on the best candidate (routing savings)
    cache_tier: str | None = None  # response/routing cache layer outcome
    notes: tuple[str, ...] = field(default=())
    finish_reason: str | None = None  # why the model stopped (domain FinishReason), when it answered
    chat: bool = True  # False: the request never reached the chat use case (refused, or not a chat route)
    method: str = ""  # HTTP method; empty for the library

    @property
    def overhead_ms(self) -> float:
        """Gateway time: total minus time spent waiting on the upstream."""
        return max(0.0, self.total_ms - self.upstream_ms)

    def at_edge(self, route: str, method: str, status: int, total_ms: float) -> RequestRecord:
        """This record as the HTTP edge completes it: the path served, the method, the status sent
        and the whole time. Written out field by field because it runs once per request and
        `dataclasses.replace` costs about three times as much; a test holds it to `replace`."""
        return RequestRecord(
            self.request_id, self.family, route, status, self.outcome, self.error_kind, self.streamed,
            self.key_id, self.organization_id, self.selection_source, self.provider, self.model,
            self.requested_model, self.attempts, self.fallbacks, total_ms, self.upstream_ms, self.ttft_ms,
            self.input_tokens, self.cached_tokens, self.output_tokens, self.reasoning_tokens, self.cost_usd,
            self.best_cost_usd, self.cache_tier, self.notes, self.finish_reason, self.chat, method)


class RequestObserver(Protocol):
    def observe(self, record: RequestRecord) -> None: ...


class Observers:
    """Fan-out to several observers; one failing observer never hides the others.

    An observer that also has `opened()` hears each request as it arrives (the in-flight gauge);
    one with `breaker_changed(key, before, after)` / `attempt_failed(key, reason)` hears the
    executor's circuit-breaker transitions and failed upstream attempts.
    """

    def __init__(self, observers: list[RequestObserver] | None = None) -> None:
        self._observers: list[RequestObserver] = []
        self._openers: list[RequestObserver] = []
        self._executor: list[RequestObserver] = []
        for observer in observers or []:
            self.add(observer)

    def add(self, observer: RequestObserver) -> None:
        self._observers.append(observer)
        if callable(getattr(observer, "opened", None)):
            self._openers.append(observer)
        if callable(getattr(observer, "breaker_changed", None)):
            self._executor.append(observer)

    def breaker_changed(self, key: str, before: str, after: str) -> None:
        for observer in self._executor:
            try:
                observer.breaker_changed(key, before, after)  # type: ignore[attr-defined]
            except Exception:
                continue

    def attempt_failed(self, key: str, reason: str) -> None:
        for observer in self._executor:
            try:
                observer.attempt_failed(key, reason)  # type: ignore[attr-defined]
            except Exception:
                continue

    def opened(self) -> None:
        for observer in self._openers:
            try:
                observer.opened()  # type: ignore[attr-defined]
            except Exception:  # telemetry must never break a request
                continue

    def observe(self, record: RequestRecord) -> None:
        for observer in self._observers:
            try:
                observer.observe(record)
            except Exception:  # telemetry must never break a request
                continue
