"""Request-level overrides merged over the YAML: one resolved configuration per request.

Precedence, lowest to highest: built-in defaults < YAML (after env substitution) < the request
body's `provider_configs`, `fallback`, `model_router` and `prompt_cache` objects. A field absent
from an override keeps the YAML value. A request may not send the server's own key for a
provider to a different `base_url`: changing `base_url` requires the request's own `api_key`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from application.settings import (
    FallbackSettings,
    ModelRouterSettings,
    PromptCacheSettings,
    ProviderSettings,
    Settings,
)
from domain.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)
_KINDS = ("openai", "anthropic", "gemini")
# Body fields that configure the gateway itself for one request; never sent upstream.
OVERRIDE_FIELDS = frozenset({"provider_configs", "fallback", "model_router", "prompt_cache"})


@dataclass(frozen=True, slots=True)
class RequestConfig:
    providers: dict[str, ProviderSettings]
    fallback: FallbackSettings
    model_router: ModelRouterSettings
    prompt_cache: PromptCacheSettings
    # Providers whose settings differ from the YAML for this request only.
    overridden: frozenset[str] = frozenset()
    # The request brought its own `fallback` object: a manual model choice may then fall back.
    fallback_requested: bool = False


def base_config(settings: Settings) -> RequestConfig:
    return RequestConfig(
        providers=settings.providers,
        fallback=settings.fallback,
        model_router=settings.model_router,
        prompt_cache=settings.prompt_cache,
    )


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _merge_model(model: M, override: Any, name: str) -> M:
    if override is None:
        return model
    if not isinstance(override, dict):
        raise InvalidRequest(f"{name} must be an object", param=name)
    try:
        return type(model).model_validate(_deep_merge(model.model_dump(), override))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(p) for p in (name, *first["loc"]))
        raise InvalidRequest(f"{path}: {first['msg']}", param=path) from None


def _merge_providers(providers: dict[str, ProviderSettings], overrides: Any) -> tuple[
        dict[str, ProviderSettings], frozenset[str]]:
    if overrides is None:
        return providers, frozenset()
    if not isinstance(overrides, dict):
        raise InvalidRequest("provider_configs must be an object keyed by provider name",
                             param="provider_configs")
    merged = dict(providers)
    for name, override in overrides.items():
        param = f"provider_configs.{name}"
        if not isinstance(override, dict):
            raise InvalidRequest(f"{param} must be an object", param=param)
        for field in ("base_url", "api_key"):
            if field in override and not isinstance(override[field], str):
                raise InvalidRequest(f"{param}.{field} must be a string", param=f"{param}.{field}")
        base = providers.get(name)
        if base is None:
            if "kind" not in override or "base_url" not in override:
                raise InvalidRequest(f"{param}: a provider not in the server config needs kind and base_url",
                                     param=param)
            if override["kind"] not in _KINDS:
                raise InvalidRequest(f"{param}.kind must be one of " + ", ".join(_KINDS), param=f"{param}.kind")
            merged[name] = _merge_model(ProviderSettings(kind=override["kind"]), override, param)
            continue
        changes_url = "base_url" in override and override["base_url"].rstrip("/") != base.base_url.rstrip("/")
        if changes_url and not override.get("api_key"):
            raise InvalidRequest(
                f"{param}: changing base_url requires the request's own api_key "
                "(the server's key is never sent to another URL)", param=f"{param}.api_key")
        merged[name] = _merge_model(base, override, param)
    return merged, frozenset(overrides)


# Server-only fields a request body may not set: where the gateway sends its router JWT, the
# size of a shared store, and the built-in router's feature prior (fixed when it is built).
_SERVER_ONLY = {"model_router": (("external",), ("cache", "max_entries"), ("prior",))}


def _refuse_server_only(body: Mapping[str, Any]) -> None:
    for name, paths in _SERVER_ONLY.items():
        override = body.get(name)
        if not isinstance(override, dict):
            continue
        for path in paths:
            node: Any = override
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None:
                param = ".".join((name, *path))
                raise InvalidRequest(f"{param} can only be set in the server configuration", param=param)


def resolve(settings: Settings, body: Mapping[str, Any], base: RequestConfig | None = None) -> RequestConfig:
    """The configuration for one request. Without overrides this is the shared base object."""
    base = base or base_config(settings)
    if not any(body.get(field) is not None for field in OVERRIDE_FIELDS):
        return base
    _refuse_server_only(body)
    providers, overridden = _merge_providers(base.providers, body.get("provider_configs"))
    return RequestConfig(
        providers=providers,
        fallback=_merge_model(base.fallback, body.get("fallback"), "fallback"),
        model_router=_merge_model(base.model_router, body.get("model_router"), "model_router"),
        prompt_cache=_merge_model(base.prompt_cache, body.get("prompt_cache"), "prompt_cache"),
        overridden=overridden,
        fallback_requested=isinstance(body.get("fallback"), dict) and body["fallback"].get("mode") != "off",
    )
