"""Which provider and model serve a request: a manual `provider:model`, or a routed choice."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from application.request_config import RequestConfig
from application.routing import BuiltinRouter, RoutingService
from application.settings import Endpoint, Settings
from domain.catalog import Catalog, ModelInfo, base_model_name
from domain.chat import ChatRequest
from domain.errors import InvalidRequest, NoCapableModel
from domain.routing import Router, RoutingInput
from domain.routing_text import request_tokens, routing_view

SelectionSource = Literal["manual_override", "router", "cache_exact", "cache_semantic", "external", "default"]


@dataclass(frozen=True, slots=True)
class Target:
    provider: str
    model: str

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(slots=True)
class Selection:
    """The chosen target first, then the alternatives a fallback may try, in order."""

    targets: list[Target]
    source: SelectionSource
    manual: bool = False
    difficulty: float | None = None  # the router's estimate, when it chose
    cache_tier: str | None = None  # the routing cache's outcome (exact / semantic / miss) when it was consulted


def catalog_for(config: RequestConfig, provider_names: list[str],
                kinds: tuple[str, ...] = ("chat",)) -> Catalog:
    """The models of `provider_names` whose `kind` is in `kinds` (routing sees chat models only)."""
    infos = []
    for name in provider_names:
        provider = config.providers.get(name)
        if provider is None:
            continue
        for model, m in provider.models.items():
            if m.kind not in kinds:
                continue
            infos.append(ModelInfo(
                provider=name, model=model, input_per_mtok=m.input_per_mtok, output_per_mtok=m.output_per_mtok,
                cache_read_per_mtok=m.cache_read_per_mtok, cache_write_per_mtok=m.cache_write_per_mtok,
                context_window=m.context_window, supports_tools=m.supports_tools,
                supports_vision=m.supports_vision, quality=m.quality))
    return Catalog(infos)


def allowed_providers(settings: Settings, config: RequestConfig, family: Endpoint) -> list[str]:
    """Providers this API family may use, including ones a request override adds or changes."""
    names = settings.endpoint_providers(family)
    for name in config.overridden:
        provider = config.providers.get(name)
        if provider is not None and provider.active and name not in names:
            names.append(name)
    return [n for n in names if n in config.providers and config.providers[n].active]


def parse_manual(model: str, config: RequestConfig, allowed: list[str]) -> Target | None:
    """`provider:model` -> Target; None when `model` is not in that form (it is then routed).

    Only the first colon splits: `ollama:llama3:8b` is model `llama3:8b` at provider `ollama`.
    """
    if ":" not in model:
        return None
    provider, _, name = model.partition(":")
    if provider not in config.providers or provider not in allowed:
        choices = ", ".join(sorted(allowed)) or "none configured"
        known = config.providers.get(provider)
        if known is not None:
            why = ("no api_key is set" if known.enabled and not known.active else
                   "it is disabled in the config" if not known.enabled else "this API family may not use it")
            raise InvalidRequest(f"provider {provider!r} is not available: {why}; available providers: {choices}",
                                 param="model", code="model_not_found")
        raise InvalidRequest(f"unknown provider {provider!r} in model {model!r}; available providers: {choices}",
                             param="model", code="model_not_found")
    models = config.providers[provider].models
    if not name:
        raise InvalidRequest(f"model {model!r} names no model after the provider", param="model")
    if models and name not in models and not _dated_variant(name, models):
        choices = ", ".join(f"{provider}:{m}" for m in models)
        raise InvalidRequest(f"unknown model {name!r} for provider {provider!r}; available: {choices}",
                             param="model", code="model_not_found")
    if name in models and models[name].kind != "chat":
        raise InvalidRequest(f"{model!r} is an embedding model: use POST /v1/embeddings", param="model",
                             code="model_not_found")
    return Target(provider=provider, model=name)


def _dated_variant(name: str, models: Mapping[str, object]) -> bool:
    return base_model_name(name) in models


class Selector:
    """Picks the targets for a request: a manual `provider:model` as given, else the router's
    choice under `cost_bias` (through `RoutingService`: routing cache, external or built-in
    router); then alternatives in the order a fallback should try them."""

    def __init__(self, settings: Settings, router: Router | None = None, routing: RoutingService | None = None) -> None:
        self._settings = settings
        if routing is None and router is not None:
            routing = RoutingService(BuiltinRouter(router))
        self._routing = routing
        self._router = routing.builtin if routing is not None else router
        # The catalog of a family's providers only changes when a request overrides providers.
        self._catalogs: dict[Endpoint, Catalog] = {}

    def _catalog(self, config: RequestConfig, family: Endpoint, allowed: list[str]) -> Catalog:
        if config.overridden:
            return catalog_for(config, allowed)
        catalog = self._catalogs.get(family)
        if catalog is None:
            catalog = self._catalogs[family] = catalog_for(config, allowed)
        return catalog

    async def select(self, request: ChatRequest, family: Endpoint, config: RequestConfig) -> Selection:
        allowed = allowed_providers(self._settings, config, family)
        manual = parse_manual(request.model, config, allowed)
        catalog = self._catalog(config, family, allowed)
        if manual is not None:
            # A manual choice falls back only when asked to; only then are alternatives worth ranking.
            may_fall_back = config.fallback.on_manual_override or config.fallback_requested
            alternatives = self._alternatives(manual, catalog, request, config) if may_fall_back else []
            return Selection(targets=[manual, *alternatives], source="manual_override", manual=True)
        if self._routing is not None and config.model_router.enabled:
            models = self._routable(catalog, config)
            if models:
                options = config.model_router
                routed = await self._routing.route(models, routing_input(request), options.cost_bias, options)
                decision = routed.decision
                targets = [Target(m.provider, m.model) for m in (decision.model, *decision.alternatives)]
                return Selection(targets=targets, source=routed.source, difficulty=decision.difficulty,
                                 cache_tier=routed.cache_tier)
        default = self._default_target(config, allowed)
        return Selection(targets=[default, *self._alternatives(default, catalog, request, config)], source="default")

    @staticmethod
    def _routable(catalog: Catalog, config: RequestConfig) -> list[ModelInfo]:
        only = config.model_router.models
        models = catalog.models()
        if only:
            wanted = set(only)  # `provider:model` ids and bare provider names (all its models)
            models = [m for m in models if m.key in wanted or m.provider in wanted]
            if not models:
                raise InvalidRequest("model_router.models names no model the endpoint may use: "
                                     + ", ".join(only), param="model_router.models")
        return models

    def _alternatives(self, chosen: Target, catalog: Catalog, request: ChatRequest,
                      config: RequestConfig) -> list[Target]:
        others = [m for m in catalog.models() if (m.provider, m.model) != (chosen.provider, chosen.model)]
        if self._router is not None and others:
            try:
                decision = self._router.choose(others, routing_input(request), config.model_router.cost_bias)
            except NoCapableModel:
                return []
            return [Target(m.provider, m.model) for m in (decision.model, *decision.alternatives)]
        info = catalog.get(chosen.provider, chosen.model)
        price = info.blended_price if info else 0.0
        others.sort(key=lambda m: (abs(m.blended_price - price), m.provider != chosen.provider))
        return [Target(m.provider, m.model) for m in others]

    def _default_target(self, config: RequestConfig, allowed: list[str]) -> Target:
        default = self._settings.server.default_model
        if default:
            target = parse_manual(default, config, allowed)
            if target is not None:
                return target
        for name in allowed:
            chat = [m for m, info in config.providers[name].models.items() if info.kind == "chat"]
            if chat:
                return Target(provider=name, model=chat[0])
        if not allowed:
            raise InvalidRequest(
                "no provider is enabled: set an API key (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, "
                "DEEPSEEK_API_KEY, GROQ_API_KEY or XAI_API_KEY) or configure a provider in config.yaml",
                param="model", code="no_provider_enabled")
        raise InvalidRequest("no model was given and no default model is configured; "
                             "use model \"provider:model\"", param="model")


def routing_input(request: ChatRequest) -> RoutingInput:
    """What the router looks at: the latest user turn with a little context (never the system
    prompt or tool schemas: `domain.routing_text`), its features, and the hard needs; the
    context-window check counts the whole request."""
    view = routing_view(request)
    return RoutingInput(prompt=view.text, turns=view.turns, needs_tools=bool(request.tools),
                        needs_vision=request.has_images(), estimated_tokens=request_tokens(request),
                        agentic=view.agentic, has_tools=view.has_tools)
