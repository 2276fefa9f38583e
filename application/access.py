"""The per-request gate: authenticate, rate-limit, then the budget and credit pre-flight.

`AccessGate.admit` runs before any upstream call and returns the `Principal` the request runs
as, or raises the typed error the caller sees (401, 429 with Retry-After, 402, 503).
Per-provider limits wrap the provider clients instead (`RateLimitedProviderFactory`), because
which provider serves a request is only known once the chat use case has chosen it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from application.clock import SYSTEM_CLOCK, utc
from application.keys import KeyService
from application.metering import PendingSpend
from application.metering_settings import RateLimitSettings
from application.providers import ProviderFactory
from application.settings import ProviderSettings, Settings
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.credits import preflight_allows
from domain.embeddings import EmbeddingRequest, Embeddings
from domain.errors import PaymentRequired, ProviderRateLimited, ProxyError, RateLimited, ServiceUnavailable
from domain.keys import ANONYMOUS, ApiKey, Principal
from domain.ports import ChatProvider, Clock, CreditLedger, EmbeddingProvider, RateLimiter
from domain.ratelimit import RateDecision

log = logging.getLogger(__name__)


async def acquire(limiter: RateLimiter, bucket: str, limit: int, fail_open: bool) -> RateDecision | None:
    """The limiter's decision; None when its backend failed and the policy is to fail open."""
    try:
        return await limiter.acquire(bucket, limit)
    except Exception as exc:  # any backend failure: the policy below decides, never a 500
        if fail_open:
            log.warning("rate limiter unavailable (%s); admitting %s", type(exc).__name__, bucket)
            return None
        raise ServiceUnavailable("rate limiter unavailable") from exc


class AccessGate:
    """Admits or refuses one request. Cheap to build; holds no per-request state."""

    def __init__(self, settings: Settings, keys: KeyService, limiter: RateLimiter, ledger: CreditLedger,
                 pending: PendingSpend, clock: Clock | None = None) -> None:
        self._settings = settings
        self._keys = keys
        self._limiter = limiter
        self._ledger = ledger
        self._pending = pending
        self._clock = clock or SYSTEM_CLOCK

    @property
    def active(self) -> bool:
        return self._settings.auth.api_keys

    async def admit(self, presented_key: str | None,
                    identified: Callable[[ApiKey], None] | None = None) -> Principal:
        """The principal, or the refusal. `identified` learns the key as soon as it is verified,
        so a request refused afterwards (429, 402) is still attributed to its key."""
        if not self.active:
            return ANONYMOUS
        key = await self._guarded(self._keys.verify(presented_key), "API key store")
        if identified is not None:
            identified(key)
        limit = key.rate_limit_rpm or self._settings.rate_limit.requests_per_minute
        decision = await acquire(self._limiter, f"key:{key.id}", limit, self._settings.rate_limit.fail_open)
        if decision is not None and not decision.allowed:
            raise RateLimited(f"rate limit of {limit} requests per minute exceeded for this API key",
                              retry_after=decision.retry_after, code="rate_limit_exceeded")
        if key.budget_exhausted(utc(self._clock), self._pending.for_key(key.id)):
            raise PaymentRequired("the API key's budget is exhausted for this period", code="budget_exceeded")
        if self._settings.credits.enabled:
            await self._check_credits(key)
        return Principal(key)

    async def _check_credits(self, key: ApiKey) -> None:
        org = key.organization_id
        if org is None:
            raise PaymentRequired("credits are enabled and this API key belongs to no organization",
                                  code="no_organization")
        balance = await self._guarded(self._ledger.balance(org), "credit ledger")
        if not preflight_allows(balance.balance, self._pending.for_org(org)):
            raise PaymentRequired("insufficient credits: the organization's balance is exhausted",
                                  code="insufficient_credits")

    @staticmethod
    async def _guarded(call: Any, what: str) -> Any:
        try:
            return await call
        except ProxyError:
            raise
        except Exception as exc:  # the store is an adapter: any failure of it is a 503, not a 500
            log.warning("%s unavailable: %s", what, type(exc).__name__)
            raise ServiceUnavailable(f"{what} unavailable") from exc


class RateLimitedProvider:
    """A provider client that takes a token from its provider-wide bucket before each call."""

    def __init__(self, inner: ChatProvider, limiter: RateLimiter, rpm: int, fail_open: bool) -> None:
        self._inner = inner
        self._limiter = limiter
        self._rpm = rpm
        self._fail_open = fail_open
        self.name = inner.name
        self.kind = inner.kind

    def __getattr__(self, item: str) -> Any:
        return getattr(self._inner, item)

    async def _acquire(self) -> None:
        decision = await acquire(self._limiter, f"provider:{self.name}", self._rpm, self._fail_open)
        if decision is not None and not decision.allowed:
            raise ProviderRateLimited(f"provider {self.name!r} is at its limit of {self._rpm} requests per minute",
                                      provider=self.name, retry_after=decision.retry_after)

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        await self._acquire()
        return await self._inner.complete(request, model)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        await self._acquire()
        events = self._inner.stream(request, model)
        try:
            async for event in events:
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        return await self._inner.count_tokens(request, model)

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings:
        await self._acquire()
        embedder: EmbeddingProvider = self._inner  # type: ignore[assignment]  # checked by the caller's kind
        return await embedder.embed(request, model)

    async def aclose(self) -> None:
        await self._inner.aclose()


class RateLimitedProviderFactory:
    """Wraps the clients of providers that set `rate_limit_rpm` when `rate_limit.per_provider` is on."""

    def __init__(self, inner: ProviderFactory, limiter: RateLimiter, settings: RateLimitSettings) -> None:
        self._inner = inner
        self._limiter = limiter
        self._settings = settings

    def __getattr__(self, item: str) -> Any:
        return getattr(self._inner, item)

    def create(self, name: str, settings: ProviderSettings) -> ChatProvider:
        client = self._inner.create(name, settings)
        if self._settings.per_provider and settings.rate_limit_rpm:
            return RateLimitedProvider(client, self._limiter, settings.rate_limit_rpm,
                                       self._settings.fail_open)
        return client
