"""The embeddings use case (`POST /v1/embeddings`): pick the embedding model, call its provider
through the executor (breakers, retries, the overall deadline), and report what served it.

Only models with `kind: embedding` in the catalog are served here, and never by the chat path.
No fallback to another model: vectors of different models are not comparable.
"""

from __future__ import annotations

from typing import Any, cast

from application.chat import fallback_policy
from application.execution import Executor
from application.providers import ProviderRegistry
from application.request_config import RequestConfig, base_config, resolve
from application.selection import Target, allowed_providers
from application.settings import Settings
from domain.breaker import breaker_key
from domain.embeddings import EmbeddingRequest, Embeddings
from domain.errors import InvalidRequest, UpstreamError
from domain.ports import EmbeddingProvider

EMBEDDING_KINDS = ("openai", "gemini")  # Anthropic has no embeddings API


class EmbeddingService:
    def __init__(self, settings: Settings, registry: ProviderRegistry, executor: Executor,
                 base: RequestConfig | None = None) -> None:
        self._settings = settings
        self._registry = registry
        self._executor = executor
        self._base = base or base_config(settings)

    @property
    def max_body_bytes(self) -> int:
        return self._settings.server.max_body_bytes

    def resolve_config(self, body: dict[str, Any]) -> RequestConfig:
        return resolve(self._settings, body, self._base)

    def target(self, model: str, config: RequestConfig) -> Target:
        """`provider:model`, a bare embedding model name, or empty/`auto` for the first one configured."""
        allowed = allowed_providers(self._settings, config, "chat_completions")
        models = [(name, m) for name in allowed if config.providers[name].kind in EMBEDDING_KINDS
                  for m, info in config.providers[name].models.items() if info.kind == "embedding"]
        provider, _, name = model.partition(":") if ":" in model else ("", "", model)
        if provider:
            settings = config.providers.get(provider)
            if settings is None or provider not in allowed:
                raise InvalidRequest(f"unknown or unavailable provider {provider!r} in model {model!r}",
                                     param="model", code="model_not_found")
            if settings.kind not in EMBEDDING_KINDS:
                raise InvalidRequest(f"provider {provider!r} is of kind {settings.kind}, which has no embeddings "
                                     "API; use an openai or gemini provider", param="model",
                                     code="model_not_found")
            info = settings.models.get(name)
            if info is not None and info.kind != "embedding":
                raise InvalidRequest(f"{model!r} is a chat model, not an embedding model (set "
                                     f"providers.{provider}.models.{name}.kind: embedding)", param="model",
                                     code="model_not_found")
            if not name:
                raise InvalidRequest(f"model {model!r} names no model after the provider", param="model")
            return Target(provider, name)
        found = [(p, m) for p, m in models if m == name] if name and name != "auto" else models[:1]
        if not found:
            choices = ", ".join(f"{p}:{m}" for p, m in models) or "none configured (models.<m>.kind: embedding)"
            raise InvalidRequest(f"no embedding model {model!r}; available: {choices}", param="model",
                                 code="model_not_found")
        return Target(*found[0])

    async def embed(self, request: EmbeddingRequest, config: RequestConfig) -> tuple[Target, Embeddings]:
        target = self.target(request.model, config)
        provider = self._registry.get(target.provider, config.providers.get(target.provider))
        if provider is None:
            raise UpstreamError(f"provider {target.provider!r} is not available", provider=target.provider)
        embedder = cast(EmbeddingProvider, provider)
        per_model = self._settings.fallback.breaker.per_model

        async def attempt(chosen: Target) -> Embeddings:
            return await embedder.embed(request, chosen.model)

        def key(chosen: Target) -> str:
            return breaker_key(chosen.provider, chosen.model, per_model)

        _, result = await self._executor.run([target], attempt, fallback_policy(config.fallback), key)
        return target, result
