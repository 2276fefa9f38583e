"""Every port the core needs, in one place: read this module as the table of contents.

Ports speak domain types only. BreakerStore, ApiKeyStore, UsageSink and UsageReader, CreditLedger,
RateLimiter, KeyedCache, ResponseStore and Embedder have an in-memory adapter in
`adapters/memory/` that is a real implementation (the embedded default) beside their
Redis/SQL/HTTP ones. ChatProvider, EmbeddingProvider, Clock, ModelRouter, PaymentEvents and UsageQueue
have none:
providers are tested against the fake upstream (`devtools/fake_upstream`), the clock and the
payment events with fakes, the model router's default is the built-in router
(`application/routing.py`), and the one UsageQueue (`adapters/sql/usage_writer.py`) batches into
any UsageSink (SQL, ClickHouse) with a spill file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, TypeVar, runtime_checkable

from domain.breaker import BreakerPolicy, BreakerSnapshot
from domain.cache_key import CachedResponse
from domain.catalog import ModelInfo
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.credits import CreditBalance, CreditTransaction, Grant
from domain.embeddings import EmbeddingRequest, Embeddings
from domain.keys import ApiKey
from domain.payments import CheckoutRequest, CheckoutSession, PaymentEvent
from domain.ratelimit import RateDecision
from domain.route_cache import CachedRoute
from domain.routing import RoutingDecision, RoutingInput
from domain.usage import UsageRecord, UsageStats


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


class EmbeddingProvider(Protocol):
    """A provider that embeds text (OpenAI-kind `/embeddings`, Gemini `batchEmbedContents`).
    Raises `domain.errors.UpstreamError` on failure, `InvalidRequest` for inputs it cannot take."""

    name: str

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings: ...


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

    async def snapshot(self, key: str) -> BreakerSnapshot:
        """The current state of one key, read only (closed when never seen)."""
        ...

    async def snapshots(self) -> dict[str, BreakerSnapshot]: ...

    def status(self) -> dict[str, object]: ...


# --- model routing ----------------------------------------------------------------------------


class ModelRouter(Protocol):
    """Chooses one model (and the fallback order of the others) among capable candidates.

    The built-in adapter is `domain.routing.Router` behind `application.routing.BuiltinRouter`;
    `adapters.routing.external.ExternalRouter` asks a service over HTTP. Raises
    `domain.errors.NoCapableModel` when no candidate fits, `UpstreamError` when it cannot decide.
    """

    @property
    def router_id(self) -> str:
        """Names the decision function: cached decisions are keyed by it."""
        ...

    async def route(self, models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float) -> RoutingDecision: ...


# --- metering: keys, limits, usage, credits, payments ------------------------------------------


class ApiKeyStore(Protocol):
    """API keys by id and by hash. `update` applies only the fields given in `changes` (names of
    `domain.keys.ApiKey` attributes) and returns the updated key, or None when there is none."""

    async def create(self, key: ApiKey) -> ApiKey: ...

    async def get(self, key_id: int) -> ApiKey | None: ...

    async def find_by_hash(self, key_hash: str) -> ApiKey | None: ...

    async def list(self, organization_id: str | None = None, include_inactive: bool = True,
                   limit: int = 100, offset: int = 0) -> list[ApiKey]: ...

    async def update(self, key_id: int, changes: Mapping[str, Any]) -> ApiKey | None: ...

    async def delete(self, key_id: int) -> bool: ...


class UsageSink(Protocol):
    """Durable usage records. `write` is atomic per call and idempotent per record id: a record
    already stored is skipped, with its post-flight effects (credit deduction linked to the
    record, key budget, key last-used time). Raises on any storage failure, writing nothing."""

    async def write(self, records: Sequence[UsageRecord]) -> None: ...


class UsageReader(Protocol):
    """Queries over stored usage records for the admin API."""

    async def get(self, record_id: str) -> UsageRecord | None: ...

    async def for_key(self, key_id: int, limit: int = 100, offset: int = 0) -> list[UsageRecord]: ...

    async def stats_for_key(self, key_id: int, since: datetime | None = None) -> UsageStats: ...


class UsageQueue(Protocol):
    """The request path's way to hand over a finished record: O(1), never blocks, never raises
    for storage reasons. The queue writes records to a UsageSink later, in batches."""

    def submit(self, record: UsageRecord) -> None: ...


class CreditLedger(Protocol):
    """Prepaid balances per organization and their transactions.

    Every change is one atomic read-modify-write in the store (no lost update across instances).
    `grant` returns (transaction, applied); with an `idempotency_key` already used it changes
    nothing and returns the earlier transaction with applied=False.
    """

    async def balance(self, organization_id: str) -> CreditBalance: ...

    async def transactions(self, organization_id: str, limit: int = 50,
                           offset: int = 0) -> list[CreditTransaction]: ...

    async def grant(self, grant: Grant) -> tuple[CreditTransaction, bool]: ...

    async def deduct(self, organization_id: str, amount: Decimal, *, api_key_id: int | None = None,
                     api_usage_id: str | None = None, description: str = "") -> CreditTransaction: ...


class RateLimiter(Protocol):
    """Admit at most `limit` requests per `period_s` per bucket key, atomically across every
    process sharing the backend. Raises on backend failure (the caller decides open or closed)."""

    async def acquire(self, key: str, limit: int, period_s: float = 60.0) -> RateDecision: ...


class PaymentEvents(Protocol):
    """A payment processor: start a credit purchase, and turn a signed webhook into an event.

    `parse` raises `domain.errors.InvalidSignature` for a missing or wrong signature and returns
    None for well-signed events that do not add credits.
    """

    async def create_checkout(self, checkout: CheckoutRequest) -> CheckoutSession: ...

    def parse(self, payload: bytes, signature: str | None) -> PaymentEvent | None: ...


# --- caches: prompt responses, routing decisions ---------------------------------------------


Entry = TypeVar("Entry")


class KeyedCache(Protocol[Entry]):
    """Entries (chat responses, routing decisions) by exact key (64 hex characters), expiring
    after their TTL, with a bound on the number of entries (least recently used evicted first),
    and a semantic index: per bucket at most a fixed number of the most recent unit vectors, so
    `nearest` costs O(candidates x dimensions) whatever the cache holds.

    A store whose backend is unreachable answers as a miss and drops writes, saying so in
    `status()`: the cache never fails a request.
    """

    async def get(self, key: str) -> Entry | None: ...

    async def put(self, key: str, entry: Entry, ttl_s: float, *, bucket: str | None = None,
                  vector: Sequence[float] | None = None) -> None: ...

    async def nearest(self, bucket: str, vector: Sequence[float], threshold: float) -> tuple[Entry, float] | None: ...

    async def size(self) -> int: ...

    async def clear(self) -> int:
        """Remove every entry and vector of this cache (the admin's "clear"); returns the number
        of entries removed."""
        ...

    def status(self) -> dict[str, object]: ...


ResponseCache = KeyedCache[CachedResponse]  # the prompt-response cache
RouteCache = KeyedCache[CachedRoute]  # the routing-decision cache


class ResponseStore(Protocol):
    """Responses API answers kept with `store: true`: per response id one JSON document (the
    `response` object and the conversation items that led to it), so `previous_response_id`
    continues the conversation on any provider. Entries expire after the store's TTL and at most
    a fixed number are kept (the oldest dropped first). Raises on a storage failure."""

    async def put(self, response_id: str, document: Mapping[str, Any]) -> None: ...

    async def get(self, response_id: str) -> dict[str, Any] | None: ...

    async def delete(self, response_id: str) -> bool: ...


class Embedder(Protocol):
    """Text embeddings (one vector per text, in order). Raises `domain.errors.UpstreamError`."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
