"""RoutingService: routing cache, external router with its breaker, built-in fallback (no I/O, frozen clock)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.memory.keyed_cache import InMemoryRouteCache
from application.routing import EXTERNAL_BREAKER, BuiltinRouter, Guard, RoutingService
from application.settings import ModelRouterSettings
from domain.breaker import BreakerPolicy
from domain.catalog import ModelInfo
from domain.difficulty import DifficultyEstimator
from domain.errors import NoCapableModel, UpstreamError
from domain.routing import Router, RoutingDecision, RoutingInput, RoutingPrior, decision_for
from entrypoints.http.schemas.select_model import decision_body
from tests.clock import FrozenClock

# Every prompt has difficulty 0.5: cost_bias 0 picks the cheapest model, 1 the best.
FLAT = DifficultyEstimator.from_params({"families": ["all"], "experts": [{"bias": 0.0, "weights": {}}],
                                        "reference": 0.5})
SMALL = ModelInfo("cheap", "small", 0.1, 0.4, supports_tools=False, quality=0.5)
LARGE = ModelInfo("dear", "large", 5.0, 15.0, quality=0.9)
MODELS = [SMALL, LARGE]
POLICY = BreakerPolicy(failure_threshold=2, success_threshold=1, open_timeout_s=30)



class ScriptedExternal:
    """An external router that picks `choice`, or fails with `error`; counts its calls."""

    router_id = "external:http://router.test"

    def __init__(self, choice: str = "cheap:small", error: UpstreamError | None = None) -> None:
        self.choice = choice
        self.error = error
        self.calls = 0

    async def route(self, models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float) -> RoutingDecision:
        self.calls += 1
        if self.error is not None:
            raise self.error
        chosen = next(m for m in models if m.key == self.choice)
        return decision_for(chosen, list(models), 0.3)


class Embedder:
    """Maps known texts to fixed vectors; counts calls; fails on demand."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.calls = 0
        self.fail = False

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.fail:
            raise UpstreamError("embeddings down")
        return [self.vectors[t] for t in texts]


def options(**cache: object) -> ModelRouterSettings:
    return ModelRouterSettings.model_validate({"cache": cache})


def service(*, external: ScriptedExternal | None = None, cache: bool = True, embedder: Embedder | None = None,
            clock: FrozenClock | None = None) -> tuple[RoutingService, InMemoryBreakerStore, FrozenClock]:
    clock = clock or FrozenClock()
    store = InMemoryBreakerStore()
    routes = InMemoryRouteCache(max_entries=100, clock=clock) if cache else None
    routing = RoutingService(BuiltinRouter(Router(FLAT), "v1"), external=external,
                             guard=Guard(store, POLICY, clock), cache=routes, embedder=embedder)
    return routing, store, clock


def inp(prompt: str = "What is the capital of France?", **kw: object) -> RoutingInput:
    return RoutingInput(prompt=prompt, **kw)  # type: ignore[arg-type]


async def test_without_a_cache_the_built_in_router_decides_every_time() -> None:
    routing, _, _ = service(cache=False)
    for _ in range(2):
        routed = await routing.route(MODELS, inp(), 1.0, options())
        assert (routed.source, routed.cache_tier, routed.decision.model) == ("router", None, LARGE)


async def test_the_second_identical_request_is_an_exact_hit() -> None:
    routing, _, _ = service()
    first = await routing.route(MODELS, inp(), 1.0, options())
    second = await routing.route(MODELS, inp(), 1.0, options())
    assert (first.source, first.cache_tier) == ("router", "miss")
    assert (second.source, second.cache_tier) == ("cache_exact", "exact")
    assert second.decision == first.decision
    other_bias = await routing.route(MODELS, inp(), 0.0, options())
    assert (other_bias.source, other_bias.decision.model) == ("router", SMALL)


async def test_a_request_may_turn_the_cache_off() -> None:
    routing, _, _ = service()
    await routing.route(MODELS, inp(), 1.0, options())
    routed = await routing.route(MODELS, inp(), 1.0, options(enabled=False))
    assert (routed.source, routed.cache_tier) == ("router", None)


async def test_entries_expire_after_their_ttl() -> None:
    routing, _, clock = service()
    await routing.route(MODELS, inp(), 1.0, options(ttl_s=60))
    clock.t += 59
    assert (await routing.route(MODELS, inp(), 1.0, options(ttl_s=60))).source == "cache_exact"
    clock.t += 2
    assert (await routing.route(MODELS, inp(), 1.0, options(ttl_s=60))).source == "router"


async def test_a_cached_choice_whose_breaker_is_open_is_skipped() -> None:
    routing, store, clock = service()
    await routing.route(MODELS, inp(), 1.0, options())
    for _ in range(POLICY.failure_threshold):
        await store.record("dear", False, POLICY, clock.now())
    routed = await routing.route(MODELS, inp(), 1.0, options())
    assert routed.source == "router"
    assert any("breaker dear is open" in note for note in routed.notes)
    clock.t += POLICY.open_timeout_s  # cooled down: the cached choice is usable again
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "cache_exact"


async def test_with_per_model_breakers_only_the_cached_models_breaker_counts() -> None:
    clock = FrozenClock()
    store = InMemoryBreakerStore()
    routing = RoutingService(BuiltinRouter(Router(FLAT)), guard=Guard(store, POLICY, clock, per_model=True),
                             cache=InMemoryRouteCache(clock=clock))
    await routing.route(MODELS, inp(), 1.0, options())
    for _ in range(POLICY.failure_threshold):
        await store.record("dear", False, POLICY, clock.now())  # a provider-wide key: not this model's
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "cache_exact"
    for _ in range(POLICY.failure_threshold):
        await store.record("dear:large", False, POLICY, clock.now())
    routed = await routing.route(MODELS, inp(), 1.0, options())
    assert routed.source == "router"
    assert any("breaker dear:large is open" in note for note in routed.notes)


async def test_a_cached_choice_that_no_longer_fits_is_not_reused() -> None:
    routing, _, _ = service()
    await routing.route(MODELS, inp(), 0.0, options())  # small, stored
    routed = await routing.route([SMALL, LARGE], inp(needs_tools=True), 0.0, options())
    assert routed.decision.model == LARGE  # another key anyway: tools are part of it
    assert routed.source == "router"


async def test_semantic_hits_need_a_close_enough_prompt() -> None:
    embedder = Embedder({"capital of France?": [1.0, 0.0], "capital of France ?": [0.99, 0.141],
                         "write a poem": [0.0, 1.0]})
    routing, _, _ = service(embedder=embedder)
    opts = options(semantic=True, semantic_threshold=0.95)
    assert (await routing.route(MODELS, inp("capital of France?"), 1.0, opts)).source == "router"
    near = await routing.route(MODELS, inp("capital of France ?"), 1.0, opts)
    assert (near.source, near.cache_tier, near.decision.model) == ("cache_semantic", "semantic", LARGE)
    assert (await routing.route(MODELS, inp("write a poem"), 1.0, opts)).source == "router"
    # a different cost_bias is another bucket: no semantic hit across biases
    assert (await routing.route(MODELS, inp("capital of France ?"), 0.0, opts)).source == "router"


async def test_a_failing_embedder_leaves_exact_matching_working() -> None:
    embedder = Embedder({"q": [1.0, 0.0]})
    routing, _, _ = service(embedder=embedder)
    opts = options(semantic=True)
    await routing.route(MODELS, inp("q"), 1.0, opts)
    embedder.fail = True
    assert (await routing.route(MODELS, inp("q"), 1.0, opts)).source == "cache_exact"
    routed = await routing.route(MODELS, inp("other"), 1.0, opts)
    assert routed.source == "router"
    assert "semantic routing cache skipped: embedding failed" in routed.notes


async def test_the_external_router_decides_when_configured() -> None:
    external = ScriptedExternal(choice="cheap:small")
    routing, store, _ = service(external=external, cache=False)
    routed = await routing.route(MODELS, inp(), 1.0, options())
    assert (routed.source, routed.decision.model, routed.decision.difficulty) == ("external", SMALL, 0.3)
    assert (await store.snapshot(EXTERNAL_BREAKER)).state == "closed"


async def test_a_failing_external_router_falls_back_and_opens_its_breaker() -> None:
    external = ScriptedExternal(error=UpstreamError("the external router answered HTTP 500"))
    routing, store, clock = service(external=external, cache=False)
    for _ in range(POLICY.failure_threshold):
        routed = await routing.route(MODELS, inp(), 1.0, options())
        assert (routed.source, routed.decision.model) == ("router", LARGE)
        assert routed.notes == ["external router failed: the external router answered HTTP 500"]
    assert (await store.snapshot(EXTERNAL_BREAKER)).state == "open"
    routed = await routing.route(MODELS, inp(), 1.0, options())
    assert external.calls == POLICY.failure_threshold  # open: not called
    assert routed.notes == ["external router skipped: its breaker is not admitting calls (open or probing)"]
    clock.t += POLICY.open_timeout_s
    external.error = None
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "external"  # the half-open probe
    assert (await store.snapshot(EXTERNAL_BREAKER)).state == "closed"


async def test_only_the_configured_routers_decisions_are_cached() -> None:
    external = ScriptedExternal(error=UpstreamError("down"))
    routing, _, _ = service(external=external)
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "router"
    external.error = None
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "external"  # not served from cache
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "cache_exact"
    assert external.calls == 2


async def test_no_capable_model_is_the_callers_error_not_a_router_failure() -> None:
    external = ScriptedExternal()

    async def refuse(models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float) -> RoutingDecision:
        raise NoCapableModel("nothing fits")

    external.route = refuse  # type: ignore[method-assign]
    routing, store, _ = service(external=external)
    with pytest.raises(NoCapableModel):
        await routing.route(MODELS, inp(), 1.0, options())
    assert (await store.snapshot(EXTERNAL_BREAKER)).failures == 0


async def test_an_unservable_request_does_not_use_up_the_half_open_probe() -> None:
    external = ScriptedExternal(error=UpstreamError("down"))
    routing, store, clock = service(external=external, cache=False)
    for _ in range(POLICY.failure_threshold):
        await routing.route(MODELS, inp(), 1.0, options())
    clock.t += POLICY.open_timeout_s
    with pytest.raises(NoCapableModel):
        await routing.route([SMALL], inp(needs_tools=True), 1.0, options())
    assert (await store.snapshot(EXTERNAL_BREAKER)).state == "open"  # no probe was admitted
    external.error = None
    assert (await routing.route(MODELS, inp(), 1.0, options())).source == "external"


async def test_health_names_the_router_and_the_cache() -> None:
    routing, _, _ = service(external=ScriptedExternal())
    await routing.route(MODELS, inp(), 1.0, options())
    report = await routing.health()
    assert report["router"] == "external:http://router.test"
    assert report["external_breaker"] == "closed"
    assert report["cache"] == {"store": "memory", "entries": 1, "semantic": False}


def test_a_prior_is_part_of_the_builtin_routers_id() -> None:
    """Cached decisions made under another feature prior are not reused."""
    assert BuiltinRouter(Router(FLAT), "v1").router_id == "builtin:v1"
    assert BuiltinRouter(Router(FLAT, RoutingPrior(agentic=0.5)), "v1").router_id == "builtin:v1+agentic=0.5,tools=0.0"


def test_a_cache_or_external_router_needs_the_breaker_guard() -> None:
    with pytest.raises(ValueError, match="breaker guard"):
        RoutingService(BuiltinRouter(Router(FLAT)), cache=InMemoryRouteCache())


async def test_select_model_answers_carry_why_a_router_was_passed_over() -> None:
    external = ScriptedExternal(error=UpstreamError("the external router answered HTTP 503"))
    routing, _, _ = service(external=external)
    body = decision_body(await routing.route(MODELS, inp(), 1.0, options()))
    assert (body["source"], body["cache_tier"], body["model"]) == ("router", "miss", "large")
    assert body["notes"] == ["external router failed: the external router answered HTTP 503"]
    external.error = None
    assert "notes" not in decision_body(await routing.route(MODELS, inp(), 1.0, options()))
