"""`ProxyBuilder`: the fluent, typed way to write the configuration a YAML file would hold.

The builder only accumulates plain data. `build_settings()` validates it through the same
`settings_from_dict` as the YAML loader, so a bad value fails there, with the same one-line
message naming the key (`providers.openai.timeout_ms: expected an integer`), and never at the
first request. Methods may be called in any order; later calls override earlier ones.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import BaseModel

from adapters.config import ConfigError, load_settings, settings_from_dict
from application.settings import (
    FallbackSettings,
    ModelRouterSettings,
    ModelSettings,
    PromptCacheSettings,
    ProviderSettings,
    Settings,
)
from entrypoints.library.endpoints import EndpointPlan

if TYPE_CHECKING:
    from entrypoints.library.proxy import Middleware, Proxy

Environment = Literal["development", "production", "test"]
Models = Mapping[str, ModelSettings | Mapping[str, Any]] | Iterable[str]
PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}


def plain(value: Any) -> Any:
    """Settings models and mappings -> plain dicts and lists, keeping only the fields given."""
    if isinstance(value, BaseModel):
        return plain(value.model_dump(exclude_unset=True))
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def merge(base: dict[str, Any], patch: Mapping[str, Any]) -> None:
    for key, value in patch.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)


def _section(model: BaseModel | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = plain(model) if model is not None else {}
    data.update(plain(fields))
    return data


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class ProxyBuilder:
    """Fluent configuration; `build()` gives a `Proxy`, `build_settings()` the validated `Settings`."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self._endpoints = EndpointPlan()
        self._middlewares: list[Middleware] = []
        self._timeout_s: object = None
        self._rate_limit: tuple[object, object] | None = None

    # --- starting points -------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path, env_files: Sequence[str | Path] = (),
                  environ: Mapping[str, str] | None = None) -> ProxyBuilder:
        """Start from a YAML file. Only the env files named here are read (none by default);
        `${VAR}` also sees the real environment (or `environ`). Raises ConfigError."""
        return cls.from_settings(load_settings(path, list(env_files), environ))

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyBuilder:
        """Start from validated settings (the keys they were given with, defaults left implicit)."""
        builder = cls()
        builder._data = settings.model_dump(exclude_unset=True, exclude={"endpoints"})
        builder._endpoints = EndpointPlan.from_settings(settings)
        return builder

    # --- server ----------------------------------------------------------------------------
    def host(self, host: str) -> Self:
        return self.with_setting("server.host", host)

    def port(self, port: int) -> Self:
        return self.with_setting("server.port", port)

    def environment(self, environment: Environment) -> Self:
        return self.with_setting("server.environment", environment)

    def log_level(self, level: Literal["debug", "info", "warning", "error"]) -> Self:
        return self.with_setting("server.log_level", level)

    def default_model(self, model: str) -> Self:
        """The `provider:model` used when a request names none and routing does not choose."""
        return self.with_setting("server.default_model", model)

    def with_cors(self, origins: str | Iterable[str], *, allow_credentials: bool | None = None,
                  allow_methods: Iterable[str] | None = None, allow_headers: Iterable[str] | None = None,
                  max_age_s: int | None = None) -> Self:
        cors: dict[str, Any] = {"allow_origins": [origins] if isinstance(origins, str) else list(origins)}
        optional = {"allow_credentials": allow_credentials, "max_age_s": max_age_s,
                    "allow_methods": None if allow_methods is None else list(allow_methods),
                    "allow_headers": None if allow_headers is None else list(allow_headers)}
        cors.update({k: v for k, v in optional.items() if v is not None})
        return self._merge({"server": {"cors": cors}})

    def with_timeout(self, seconds: float) -> Self:
        """A whole request, retries and fallbacks included, takes at most `seconds`
        (`fallback.timeout_ms`), and so does each provider call (`timeout_ms` of every provider
        that does not set its own)."""
        self._timeout_s = seconds
        return self

    def with_setting(self, path: str, value: Any) -> Self:
        """Any other setting by its YAML path: `.with_setting("usage.enabled", False)`."""
        node = self._data
        *parents, leaf = path.split(".")
        for key in parents:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[leaf] = plain(value)
        return self

    # --- providers and endpoints -----------------------------------------------------------
    def add_provider(self, name: str, provider: ProviderSettings | Mapping[str, Any],
                     endpoints: Iterable[str] | None = None) -> Self:
        """Add (or replace) a provider. `endpoints`: the API families it serves
        (`chat_completions`, `messages`, `gemini`); default every family not restricted to a list."""
        self._data.setdefault("providers", {})[name] = plain(provider)
        if endpoints is None:
            self._endpoints.served_by.pop(name, None)
        else:
            self._endpoints.served_by[name] = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        return self

    def add_openai_compatible_provider(self, name: str, *, base_url: str = "", api_key: str = "",
                                       models: Models | None = None, endpoints: Iterable[str] | None = None,
                                       **fields: Any) -> Self:
        """OpenAI, DeepSeek, Groq, xAI, Ollama, vLLM...: anything that speaks chat completions."""
        return self.add_provider(name, _provider("openai", base_url, api_key, models, fields), endpoints)

    def add_anthropic_compatible_provider(self, name: str, *, base_url: str = "", api_key: str = "",
                                          models: Models | None = None, endpoints: Iterable[str] | None = None,
                                          **fields: Any) -> Self:
        return self.add_provider(name, _provider("anthropic", base_url, api_key, models, fields), endpoints)

    def add_gemini_compatible_provider(self, name: str, *, base_url: str = "", api_key: str = "",
                                       models: Models | None = None, endpoints: Iterable[str] | None = None,
                                       **fields: Any) -> Self:
        return self.add_provider(name, _provider("gemini", base_url, api_key, models, fields), endpoints)

    def enable_endpoint(self, family: str, providers: Iterable[str] | None = None) -> Self:
        """Serve an API family even without providers added for it; `providers` restricts it."""
        self._endpoints.flags[family] = True
        if providers is not None:
            self._endpoints.lists[family] = list(providers)
        return self

    def disable_endpoint(self, family: str) -> Self:
        self._endpoints.flags[family] = False
        return self

    # --- routing, resilience, caching --------------------------------------------------------
    def with_model_router(self, settings: ModelRouterSettings | None = None, /, **fields: Any) -> Self:
        """`with_model_router(cost_bias=0.3)` or `with_model_router(ModelRouterSettings(...))`."""
        return self._merge({"model_router": _section(settings, fields)})

    def with_fallback(self, settings: FallbackSettings | None = None, /, **fields: Any) -> Self:
        """`with_fallback(mode="race", max_candidates=3)` or `with_fallback(FallbackSettings(...))`."""
        return self._merge({"fallback": _section(settings, fields)})

    def with_prompt_cache(self, settings: PromptCacheSettings | None = None, /, **fields: Any) -> Self:
        """Turn the response cache on (unless `enabled=False` is given) with these settings."""
        return self._merge({"prompt_cache": {"enabled": True, **_section(settings, fields)}})

    # --- storage ---------------------------------------------------------------------------
    def with_redis(self, url: str, *, key_prefix: str | None = None) -> Self:
        """Breakers, rate limits and caches shared through Redis instead of this process's memory."""
        return self._merge({"redis": _given(url=url, key_prefix=key_prefix)})

    def with_database(self, url: str, *, auto_migrate: bool | None = None) -> Self:
        """Keys, usage and credits in this database instead of the embedded SQLite file under var/."""
        return self._merge({"database": _given(url=url, auto_migrate=auto_migrate)})

    # --- metered service -------------------------------------------------------------------
    def enable_api_key_auth(self, *, admin_token: str | None = None, key_cache_ttl_s: float | None = None) -> Self:
        """Every /v1 request needs a gateway API key; `admin_token` also serves the /admin API."""
        return self._merge({"auth": _given(api_keys=True, admin_token=admin_token,
                                           key_cache_ttl_s=key_cache_ttl_s)})

    def enable_credits(self, *, currency: str | None = None) -> Self:
        """Prepaid credits per organization (needs `enable_api_key_auth()`)."""
        return self._merge({"credits": _given(enabled=True, currency=currency)})

    def with_stripe(self, secret_key: str, webhook_secret: str, *, api_base: str | None = None) -> Self:
        return self._merge({"stripe": _given(secret_key=secret_key, webhook_secret=webhook_secret,
                                             api_base=api_base)})

    def with_rate_limit(self, requests: int | None = None, per: float | str = "minute", *,
                        per_provider: bool | None = None, fail_open: bool | None = None) -> Self:
        """Each API key may make `requests` per `per` ("second", "minute", "hour", "day" or seconds);
        stored as `rate_limit.requests_per_minute`, so it must come to a whole number per minute.
        `per_provider=True` also enforces each provider's `rate_limit_rpm`."""
        if requests is not None:
            self._rate_limit = (requests, per)
        return self._merge({"rate_limit": _given(per_provider=per_provider, fail_open=fail_open)})

    # --- HTTP ------------------------------------------------------------------------------
    def with_middleware(self, middleware: Middleware) -> Self:
        """`async def fn(request, next_handler) -> Response`; middlewares run in registration
        order, after the gateway's own (request id, errors, API keys), and may short-circuit."""
        self._middlewares.append(middleware)
        return self

    # --- results ---------------------------------------------------------------------------
    @property
    def middlewares(self) -> tuple[Middleware, ...]:
        return tuple(self._middlewares)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as the YAML would hold it (before validation)."""
        data = copy.deepcopy(self._data)
        providers: dict[str, Any] = data.get("providers") or {}
        if self._timeout_s is not None:
            ms = _timeout_ms(self._timeout_s)
            for provider in providers.values():
                if isinstance(provider, dict):
                    provider.setdefault("timeout_ms", ms)
            data.setdefault("fallback", {}).setdefault("timeout_ms", ms)
        if self._rate_limit is not None:
            data.setdefault("rate_limit", {})["requests_per_minute"] = _per_minute(*self._rate_limit)
        endpoints = self._endpoints.section(list(providers) if isinstance(providers, dict) else [])
        if endpoints is not None:
            data["endpoints"] = endpoints
        return data

    def build_settings(self) -> Settings:
        """The validated settings. Raises ConfigError with the YAML loader's one-line message."""
        settings = settings_from_dict(self.to_dict())
        if self._rate_limit is not None and not settings.auth.api_keys:
            raise ConfigError("rate_limit.requests_per_minute: the limit applies to each API key; "
                              "call enable_api_key_auth() too")
        return settings

    def build(self) -> Proxy:
        from entrypoints.library.proxy import Proxy

        return Proxy(self.build_settings(), middlewares=self._middlewares)

    def copy(self) -> ProxyBuilder:
        other = ProxyBuilder()
        other._data = copy.deepcopy(self._data)
        other._endpoints = self._endpoints.copy()
        other._middlewares = list(self._middlewares)
        other._timeout_s, other._rate_limit = self._timeout_s, self._rate_limit
        return other

    def _merge(self, patch: Mapping[str, Any]) -> Self:
        merge(self._data, patch)
        return self


def _given(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _provider(kind: str, base_url: str, api_key: str, models: Models | None,
              fields: Mapping[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {"kind": kind, **_given(base_url=base_url or None, api_key=api_key or None)}
    if isinstance(models, str):
        models = [models]
    if models is not None:
        data["models"] = plain(models) if isinstance(models, Mapping) else {name: {} for name in models}
    data.update(plain(fields))
    return data


def _timeout_ms(seconds: object) -> int:
    value = _number(seconds)
    if value is None or value <= 0:
        raise ConfigError(f"timeout: expected a positive number of seconds, got {seconds!r}")
    return max(1, round(value * 1000))


def _per_minute(requests: object, per: object) -> object:
    seconds = PERIODS.get(per) if isinstance(per, str) else _number(per)
    if seconds is None or seconds <= 0:
        raise ConfigError(f"rate_limit: per must be a positive number of seconds or one of "
                          f"{', '.join(PERIODS)}, got {per!r}")
    if seconds == 60.0:
        return requests  # validated as requests_per_minute, with the YAML's message
    count = _number(requests)
    if count is None or count != int(count) or count <= 0:
        raise ConfigError(f"rate_limit: expected a positive whole number of requests, got {requests!r}")
    rpm = count * 60.0 / seconds
    if abs(rpm - round(rpm)) > 1e-9 or round(rpm) < 1:
        raise ConfigError(f"rate_limit: {int(count)} requests per {seconds:g}s is {rpm:.4g} per minute; "
                          "the limit counts whole requests per minute")
    return round(rpm)
