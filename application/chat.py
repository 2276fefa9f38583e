"""Complete or stream a chat: select the model, call providers resiliently, report what served it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from application.clock import SYSTEM_CLOCK
from application.execution import Attempts, Executor, open_stream
from application.metering import RequestMeter
from application.providers import ProviderRegistry
from application.request_config import RequestConfig, base_config, resolve
from application.response_cache import CachePlan, ResponseCaching
from application.selection import Selection, Selector, Target
from application.settings import Endpoint, FallbackSettings, Settings
from domain.breaker import breaker_key
from domain.cache_key import reported_cache_tier
from domain.chat import ChatRequest, ChatResponse, StreamEnd, StreamEvent
from domain.errors import UpstreamError
from domain.fallback import FallbackPolicy, candidates
from domain.keys import Principal
from domain.ports import ChatProvider, Clock
from domain.telemetry import RequestRecord


@dataclass(slots=True)
class ChatCall:
    """One inbound chat request, already translated to the domain."""

    request: ChatRequest
    family: Endpoint
    config: RequestConfig | None = None  # resolved by the service from `overrides` when not given
    request_id: str = ""
    cache_control: str | None = None  # the request's Cache-Control header (no-cache / no-store)
    principal: Principal | None = None  # who asks: scopes response-cache sharing
    meter: RequestMeter | None = None  # the request's usage ledger, when usage is recorded
    api_key: str | None = None  # the key presented, for a frontend that leaves admission to MeteredChat
    metadata: dict[str, Any] | None = None  # free-form usage metadata recorded with the usage row
    overrides: Mapping[str, Any] | None = None  # the body's override objects (model_router, fallback...)
    tried: list[str] = field(default_factory=list)  # "provider:model" called, in order (also on failure)
    # Where the use case hands this request's RequestRecord (the HTTP edge's Exchange); None: the observers.
    report: Callable[[RequestRecord], None] | None = None


@dataclass(slots=True)
class ChatOutcome:
    response: ChatResponse
    target: Target
    selection: Selection
    attempts: Attempts = field(default_factory=Attempts)
    cache_tier: str | None = None  # miss / exact / semantic when the response cache was in play
    upstream_s: float = 0.0  # time spent awaiting provider calls


@dataclass(slots=True)
class StreamOutcome:
    """A stream whose first event has arrived: headers can name the target before any byte."""

    events: AsyncIterator[StreamEvent]
    target: Target
    selection: Selection
    attempts: Attempts = field(default_factory=Attempts)
    cache_tier: str | None = None
    upstream_s: float = 0.0  # time awaiting upstreams until the first event (the stream adds its own)


def fallback_policy(settings: FallbackSettings) -> FallbackPolicy:
    return FallbackPolicy(
        mode=settings.mode, max_retries=settings.max_retries, backoff_s=settings.backoff_ms / 1000,
        max_backoff_s=settings.max_backoff_ms / 1000, timeout_s=settings.timeout_ms / 1000,
        race_width=settings.race_width, max_candidates=settings.max_candidates)


class ChatService:
    """The chat use case. Stateless per request; collaborators are injected."""

    def __init__(self, settings: Settings, registry: ProviderRegistry, executor: Executor,
                 selector: Selector, base: RequestConfig | None = None, cache: ResponseCaching | None = None,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._settings = settings
        self._clock = clock  # times the upstream part of each call
        self._registry = registry
        self._executor = executor
        self._selector = selector
        self._base = base or base_config(settings)
        self._cache = cache

    @property
    def max_body_bytes(self) -> int:
        return self._settings.server.max_body_bytes

    def resolve_config(self, body: Mapping[str, Any]) -> RequestConfig:
        """The YAML merged with the body's override objects (the shared base when there are none)."""
        return resolve(self._settings, body, self._base)

    def config_of(self, call: ChatCall) -> RequestConfig:
        """The call's configuration, resolved once from its overrides (a bad one is a 400)."""
        if call.config is None:
            call.config = self.resolve_config(call.overrides or {})
        return call.config

    def available_models(self) -> list[tuple[str, str]]:
        """(provider, "provider:model") for every model of every active provider."""
        return [(name, f"{name}:{model}") for name, p in self._settings.active_providers().items()
                for model in p.models]

    async def select(self, call: ChatCall) -> Selection:
        return await self._selector.select(call.request, call.family, self.config_of(call))

    def _plan(self, call: ChatCall, selection: Selection) -> tuple[list[Target], FallbackPolicy]:
        config = self.config_of(call)
        policy = fallback_policy(config.fallback)
        manual_may = config.fallback.on_manual_override or config.fallback_requested
        return candidates(selection.targets, policy, manual=selection.manual, manual_may_fall_back=manual_may), policy

    def _provider(self, call: ChatCall, target: Target) -> ChatProvider:
        provider = self._registry.get(target.provider, self.config_of(call).providers.get(target.provider))
        if provider is None:
            raise UpstreamError(f"provider {target.provider!r} is not available", provider=target.provider)
        return provider

    def _breaker_key(self, target: Target) -> str:
        return breaker_key(target.provider, target.model, self._settings.fallback.breaker.per_model)

    async def count_tokens(self, call: ChatCall) -> int:
        """Input tokens of the request as its selected provider counts them."""
        target = (await self.select(call)).targets[0]
        return await self._provider(call, target).count_tokens(call.request, target.model)

    def _cache_plan(self, call: ChatCall) -> CachePlan | None:
        if self._cache is None:
            return None
        return self._cache.plan(call.request, call.family, self.config_of(call), cache_control=call.cache_control,
                                principal=call.principal)

    async def complete(self, call: ChatCall) -> ChatOutcome:
        plan = self._cache_plan(call)
        if plan is not None and self._cache is not None:
            hit = await self._cache.lookup(plan)
            if hit is not None:
                return ChatOutcome(response=hit.response(), target=hit.target, selection=hit.selection(),
                                   cache_tier=hit.tier)
        selection = await self.select(call)
        targets, policy = self._plan(call, selection)
        attempts = Attempts()

        async def attempt(target: Target) -> ChatResponse:
            call.tried.append(f"{target.provider}:{target.model}")
            return await self._provider(call, target).complete(call.request, target.model)

        began = self._clock.monotonic()
        target, answer = await self._executor.run(targets, attempt, policy, self._breaker_key, attempts)
        upstream_s = self._clock.monotonic() - began
        if plan is not None and self._cache is not None:
            await self._cache.save(plan, answer, target)
        answer.usage.cache_tier = reported_cache_tier(None if plan is None else "miss", selection.cache_tier)
        return ChatOutcome(response=answer, target=target, selection=selection, attempts=attempts,
                           cache_tier=None if plan is None else "miss", upstream_s=upstream_s)

    async def stream(self, call: ChatCall) -> StreamOutcome:
        plan = self._cache_plan(call)
        if plan is not None and self._cache is not None:
            hit = await self._cache.lookup(plan)
            if hit is not None:
                return StreamOutcome(events=self._cache.replay(hit), target=hit.target, selection=hit.selection(),
                                     cache_tier=hit.tier)
        selection = await self.select(call)
        targets, policy = self._plan(call, selection)
        attempts = Attempts()

        async def attempt(target: Target) -> tuple[StreamEvent, AsyncGenerator[StreamEvent, None]]:
            call.tried.append(f"{target.provider}:{target.model}")
            events = self._provider(call, target).stream(call.request, target.model)
            return await open_stream(cast(AsyncGenerator[StreamEvent, None], events))

        async def discard(result: tuple[StreamEvent, AsyncGenerator[StreamEvent, None]]) -> None:
            await result[1].aclose()

        began = self._clock.monotonic()
        target, (first, rest) = await self._executor.run(targets, attempt, policy, self._breaker_key, attempts,
                                                         discard)
        upstream_s = self._clock.monotonic() - began
        events = _prepend(first, rest)
        if plan is not None and self._cache is not None:
            events = self._cache.recorded(plan, events, target)
        tier = reported_cache_tier(None if plan is None else "miss", selection.cache_tier)
        if tier is not None:
            events = _tier_at_end(events, tier)
        return StreamOutcome(events=events, target=target, selection=selection, attempts=attempts,
                             cache_tier=None if plan is None else "miss", upstream_s=upstream_s)


async def _tier_at_end(events: AsyncIterator[StreamEvent], tier: str) -> AsyncIterator[StreamEvent]:
    """The stream with `tier` as the cache tier of its final usage."""
    try:
        async for event in events:
            if isinstance(event, StreamEnd):
                event.usage.cache_tier = tier
            yield event
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()


async def _prepend(first: StreamEvent, rest: AsyncGenerator[StreamEvent, None]) -> AsyncIterator[StreamEvent]:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()  # a client that hangs up closes the upstream call now, not at GC
