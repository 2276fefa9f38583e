"""The prompt-response cache use case, consulted by ChatService before it selects a model.

Per request: `plan` decides whether the cache is in play and derives the key (nothing is hashed
when the cache is off for the request); `lookup` tries the exact key, then — when semantic mode is
on and the prompt is eligible — the nearest embedding in the request's semantic bucket; a hit
skips routing and the upstream call. After a miss, `save` (plain) or `recorded` (stream: stored
at its StreamEnd, so a stream cut short or failing is never stored) keeps the answer if
`domain.cache_key.storable` allows it. A streamed hit is replayed by `replay` as domain events,
which each API family's encoder turns into a well-formed stream of its own.

Per-request controls: the body's `prompt_cache` object may set `enabled`, `ttl_s` (at most the
YAML's), `semantic` and `semantic_threshold`; `Cache-Control: no-cache` skips the lookup but stores
the fresh answer, `no-store` skips both. Sharing (`scope`), temperature policy, size bounds and
replay pacing come from the YAML only: a request cannot widen what it may read.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from application.clock import SYSTEM_CLOCK
from application.request_config import RequestConfig
from application.selection import Selection, Target, allowed_providers
from application.settings import Endpoint, Settings
from domain.cache_key import (
    CachedResponse,
    CacheTier,
    KeyContext,
    exact_key,
    for_storage,
    semantic_bucket,
    semantic_text,
    served_from_cache,
    storable,
    uncacheable_reason,
)
from domain.chat import ChatRequest, ChatResponse, StreamEnd, StreamEvent, TextDelta, collect_stream, response_events
from domain.errors import ProxyError
from domain.keys import Principal
from domain.ports import Clock, Embedder, ResponseCache

log = logging.getLogger(__name__)
# The wire fields of a request that change its answer but are outside the domain form: {} for
# none, None when the request cannot be answered from a cached domain response.
WireResidue = Callable[[ChatRequest], dict[str, Any] | None]
_WORDS = re.compile(r"\S+\s*|\s+")


def domain_only(request: ChatRequest) -> dict[str, Any] | None:
    """The safe default without a wire adapter: requests carrying a wire body are not cached."""
    return {} if request.raw is None else None


def cache_directives(header: str | None) -> tuple[bool, bool]:
    """(may read, may write) under a request's Cache-Control header."""
    if not header:
        return True, True
    tokens = {t.strip().split("=", 1)[0].lower() for t in header.split(",")}
    if "no-store" in tokens:
        return False, False
    return "no-cache" not in tokens, True


def config_namespace(settings: Settings) -> str:
    """A digest of what the answers depend on in the configuration (providers, endpoints,
    default model; never keys): entries written under another configuration are not read."""
    providers = {name: p.model_dump(mode="json", exclude={"api_key"}) for name, p in settings.providers.items()}
    endpoints = {name: e.model_dump(mode="json") for name, e in settings.endpoints.items()}
    text = json.dumps([providers, endpoints, settings.server.default_model], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(slots=True)
class SemanticProbe:
    bucket: str
    text: str
    threshold: float
    vector: list[float] | None = None  # embedded once, reused by the write after a miss


@dataclass(slots=True)
class CachePlan:
    """What the cache may do for one request. An empty key: in play (the outcome says `miss`),
    but nothing to look up or store (no-store, or a request that is never cached)."""

    key: str = ""
    read: bool = False
    write: bool = False
    ttl_s: float = 0.0
    semantic: SemanticProbe | None = None


@dataclass(frozen=True, slots=True)
class CacheHit:
    entry: CachedResponse
    tier: CacheTier
    similarity: float = 1.0

    @property
    def target(self) -> Target:
        return Target(self.entry.provider, self.entry.model)

    def selection(self) -> Selection:
        return Selection(targets=[self.target], source="cache_exact" if self.tier == "exact" else "cache_semantic")

    def response(self) -> ChatResponse:
        return served_from_cache(self.entry, self.tier)


class ResponseCaching:
    """The prompt-response cache: plan, look up, store, replay. Holds no per-request state."""

    def __init__(self, settings: Settings, store: ResponseCache, embedder: Embedder | None = None,
                 residue: WireResidue = domain_only, namespace: str = "",
                 clock: Clock | None = None) -> None:
        self._settings = settings
        self._yaml = settings.prompt_cache
        self._store = store
        self._embedder = embedder
        self._residue = residue
        self._namespace = namespace
        self._clock = clock or SYSTEM_CLOCK

    def plan(self, request: ChatRequest, family: Endpoint, config: RequestConfig, *,
             cache_control: str | None = None, principal: Principal | None = None) -> CachePlan | None:
        """None when the cache is off for this request (the common case costs one attribute read)."""
        options = config.prompt_cache
        if not options.enabled:
            return None
        read, write = cache_directives(cache_control)
        allow_warm = self._yaml.cache_nonzero_temperature
        if not (read or write) or uncacheable_reason(request, allow_nonzero_temperature=allow_warm) is not None:
            return CachePlan()
        wire = self._residue(request)
        if wire is None:
            return CachePlan()
        context = KeyContext(target=self._target(request, family, config), scope=self._scope(principal),
                             namespace=self._namespace, wire=[request.raw_family, wire] if wire else None)
        semantic = None
        if options.semantic and self._embedder is not None:
            text = semantic_text(request, self._yaml.semantic_max_chars)
            if text is not None:
                semantic = SemanticProbe(semantic_bucket(request, context), text, options.semantic_threshold)
        return CachePlan(exact_key(request, context), read, write, min(options.ttl_s, self._yaml.ttl_s), semantic)

    def _target(self, request: ChatRequest, family: Endpoint, config: RequestConfig) -> list[Any]:
        """The resolved model when the caller names one; else what the router decides from."""
        if ":" in request.model:
            spec: list[Any] = ["manual", request.model]
        else:
            router = config.model_router
            spec = ["routed", allowed_providers(self._settings, config, family), router.enabled, router.cost_bias,
                    router.models, router.external.url, self._settings.server.default_model]
        if config.overridden:
            spec.append([[name, config.providers[name].model_dump(mode="json", exclude={"api_key"})]
                         for name in sorted(config.overridden) if name in config.providers])
        return spec

    def _scope(self, principal: Principal | None) -> str:
        key = principal.key if principal is not None else None
        if key is None or self._yaml.scope == "global":
            return ""
        if self._yaml.scope == "organization" and key.organization_id:
            return f"org:{key.organization_id}"
        return f"key:{key.id}"

    async def lookup(self, plan: CachePlan) -> CacheHit | None:
        if not (plan.read and plan.key):
            return None
        entry = await self._store.get(plan.key)
        if entry is not None:
            return CacheHit(entry, "exact")
        probe = plan.semantic
        if probe is None:
            return None
        vector = await self._vector(probe)
        if vector is None:
            return None
        found = await self._store.nearest(probe.bucket, vector, probe.threshold)
        return CacheHit(found[0], "semantic", found[1]) if found is not None else None

    async def _vector(self, probe: SemanticProbe) -> list[float] | None:
        if probe.vector is None and self._embedder is not None:
            try:
                probe.vector = (await self._embedder.embed([probe.text]))[0]
            except ProxyError as exc:  # no embedding: exact-only for this request, never a failure
                log.warning("embedding failed, semantic cache skipped: %s", exc)
                return None
        return probe.vector

    async def save(self, plan: CachePlan, response: ChatResponse, target: Target) -> None:
        """Store a finished answer if the plan and `storable` allow it."""
        if not (plan.write and plan.key) or not storable(response):
            return
        probe = plan.semantic
        vector = await self._vector(probe) if probe is not None else None
        entry = CachedResponse(for_storage(response), target.provider, target.model, stored_at=self._clock.now())
        await self._store.put(plan.key, entry, plan.ttl_s, bucket=probe.bucket if probe and vector else None,
                              vector=vector)

    async def recorded(self, plan: CachePlan, events: AsyncIterator[StreamEvent],
                       target: Target) -> AsyncIterator[StreamEvent]:
        """Pass a live stream through, storing it when it ends with its StreamEnd (before that
        event goes out, so the next identical request finds it)."""
        keep = plan.write and bool(plan.key)
        seen: list[StreamEvent] = []
        try:
            async for event in events:
                if isinstance(event, StreamEnd):
                    if keep:
                        seen.append(event)
                        await self.save(plan, collect_stream(seen), target)
                    event.usage.cache_tier = "miss"
                elif keep:
                    seen.append(event)
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def replay(self, hit: CacheHit) -> AsyncIterator[StreamEvent]:
        """The stored answer as a stream: at once, or word by word at `replay_chunk_delay_ms`."""
        delay = self._yaml.replay_chunk_delay_ms / 1000
        for index, event in enumerate(response_events(hit.response())):
            if delay and isinstance(event, TextDelta):
                for word in _WORDS.findall(event.text):
                    await asyncio.sleep(delay)
                    yield TextDelta(text=word)
                continue
            if delay and index:
                await asyncio.sleep(delay)
            yield event
