"""Routing a request to a model: the routing-decision cache, then the external or built-in router.

`RoutingService.route(models, inp, cost_bias, options)`:
1. Routing cache (`model_router.cache`, on by default): the exact key of the decision inputs
   (`domain.route_cache.route_key`), then — with `semantic: true` and an embedder — the nearest
   stored prompt of the same bucket above `semantic_threshold`. A cached choice is reused only if
   it is still a capable candidate and its provider's breaker is not open; otherwise it is skipped
   and the request is routed afresh. Sources `cache_exact` / `cache_semantic`.
2. The external router, when configured, guarded by its own breaker (`router:external` in
   /health): a failure, timeout or unusable answer counts against it and the built-in router
   decides instead. Source `external`.
3. The built-in router. Source `router`.
Only the configured router's own decisions are stored: a built-in decision made because the
external router failed is not, so the external router is asked again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from application.settings import ModelRouterSettings
from domain.breaker import BreakerPolicy, breaker_key, is_open
from domain.cache_key import CacheTier
from domain.catalog import ModelInfo
from domain.errors import ProxyError, UpstreamError
from domain.ports import BreakerStore, Clock, Embedder, ModelRouter, RouteCache
from domain.route_cache import CachedRoute, key_in_bucket, rebuild, route_bucket, to_entry
from domain.routing import Router, RoutingDecision, RoutingInput, capable

log = logging.getLogger(__name__)
RoutedBy = Literal["router", "external", "cache_exact", "cache_semantic"]
EXTERNAL_BREAKER = "router:external"


class BuiltinRouter:
    """`domain.routing.Router` as a `ModelRouter`: its decision is pure and takes no I/O."""

    def __init__(self, router: Router, version: str = "") -> None:
        self._router = router
        self._id = f"builtin:{version}" if version else "builtin"
        if router.prior.key:  # decisions under another prior are not reused from the cache
            self._id += f"+{router.prior.key}"

    @property
    def router(self) -> Router:
        return self._router

    @property
    def router_id(self) -> str:
        return self._id

    async def route(self, models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float) -> RoutingDecision:
        return self._router.choose(models, inp, cost_bias)


@dataclass(slots=True)
class Routed:
    decision: RoutingDecision
    source: RoutedBy
    cache_tier: CacheTier | None = None  # exact / semantic / miss when the routing cache was in play
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Guard:
    """The breakers the routing path reads and writes (`per_model` as `fallback.breaker.per_model`)."""

    store: BreakerStore
    policy: BreakerPolicy
    clock: Clock
    per_model: bool = False


class RoutingService:
    def __init__(self, builtin: BuiltinRouter, *, external: ModelRouter | None = None, guard: Guard | None = None,
                 cache: RouteCache | None = None, embedder: Embedder | None = None,
                 cache_ttl_s: float = 3600, semantic_max_chars: int = 8000) -> None:
        if (external is not None or cache is not None) and guard is None:
            raise ValueError("an external router or a routing cache needs the breaker guard")
        self._builtin = builtin
        self._external = external
        self._guard = guard
        self._cache = cache
        self._embedder = embedder
        self._max_ttl_s = cache_ttl_s
        self._max_chars = semantic_max_chars

    @property
    def builtin(self) -> Router:
        return self._builtin.router

    async def health(self) -> dict[str, object]:
        """For /health: which router decides, the external router's breaker, the cache's store."""
        report: dict[str, object] = {"router": (self._external or self._builtin).router_id}
        if self._external is not None and self._guard is not None:
            report["external_breaker"] = (await self._guard.store.snapshot(EXTERNAL_BREAKER)).state
        if self._cache is not None:
            report["cache"] = {**self._cache.status(), "entries": await self._cache.size(),
                               "semantic": self._embedder is not None}
        return report

    async def route(self, models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float,
                    options: ModelRouterSettings) -> Routed:
        # A request nothing can serve is the caller's error (NoCapableModel, a 400) before any
        # cache read or router call, so it never uses up the external router's half-open probe.
        pool = capable(models, inp)
        cache = self._cache if options.cache.enabled else None
        if cache is None:
            return await self._decide(pool, inp, cost_bias)
        notes: list[str] = []
        bucket = route_bucket(models, inp, cost_bias, (self._external or self._builtin).router_id)
        key = key_in_bucket(bucket, inp.prompt)
        hit = await self._reuse(await cache.get(key), pool, notes)
        if hit is not None:
            return Routed(hit, "cache_exact", "exact", notes)
        vector = None
        if options.cache.semantic and self._embedder is not None and inp.prompt:
            vector = await self._embed(self._embedder, inp.prompt[-self._max_chars:], notes)
            found = await cache.nearest(bucket, vector, options.cache.semantic_threshold) if vector else None
            hit = await self._reuse(found[0] if found else None, pool, notes)
            if hit is not None:
                return Routed(hit, "cache_semantic", "semantic", notes)
        routed = await self._decide(pool, inp, cost_bias)
        routed.notes[:0] = notes
        routed.cache_tier = "miss"
        if routed.source == ("external" if self._external is not None else "router"):
            entry = to_entry(routed.decision, routed.source, self._now())
            await cache.put(key, entry, min(options.cache.ttl_s, self._max_ttl_s),
                            bucket=bucket if vector else None, vector=vector)
        return routed

    async def _decide(self, pool: list[ModelInfo], inp: RoutingInput, cost_bias: float) -> Routed:
        notes: list[str] = []
        if self._external is not None and self._guard is not None:
            guard = self._guard
            if await guard.store.admit(EXTERNAL_BREAKER, guard.policy, guard.clock.now()):
                try:
                    decision = await self._external.route(pool, inp, cost_bias)
                except UpstreamError as exc:
                    await guard.store.record(EXTERNAL_BREAKER, False, guard.policy, guard.clock.now())
                    log.warning("external router failed, the built-in router decides: %s", exc.message)
                    notes.append(f"external router failed: {exc.message}")
                else:
                    await guard.store.record(EXTERNAL_BREAKER, True, guard.policy, guard.clock.now())
                    return Routed(decision, "external", notes=notes)
            else:
                notes.append("external router skipped: its breaker is not admitting calls (open or probing)")
        return Routed(await self._builtin.route(pool, inp, cost_bias), "router", notes=notes)

    async def _reuse(self, entry: CachedRoute | None, pool: list[ModelInfo],
                     notes: list[str]) -> RoutingDecision | None:
        """A cached decision, unless its choice is not a capable candidate or its breaker is open."""
        decision = rebuild(entry, pool) if entry is not None else None
        if decision is None or self._guard is None:
            return decision
        guard = self._guard
        key = breaker_key(decision.model.provider, decision.model.model, guard.per_model)
        if is_open(await guard.store.snapshot(key), guard.policy, guard.clock.now()):
            notes.append(f"cached choice {decision.model.key} skipped: breaker {key} is open")
            return None
        return decision

    @staticmethod
    async def _embed(embedder: Embedder, text: str, notes: list[str]) -> list[float] | None:
        try:
            return (await embedder.embed([text]))[0]
        except ProxyError as exc:  # no embedding: exact-only for this request, never a failure
            log.warning("embedding failed, semantic routing cache skipped: %s", exc.message)
            notes.append("semantic routing cache skipped: embedding failed")
            return None

    def _now(self) -> float:
        return self._guard.clock.now() if self._guard is not None else 0.0
