"""The validated configuration: the YAML file, the fluent builder and request overrides all end
up as these models. Unknown keys are errors, so a typo fails at startup instead of being ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from application.metering_settings import (
    AuthSettings,
    CreditsSettings,
    DatabaseSettings,
    RateLimitSettings,
    StripeSettings,
    UsageSettings,
)
from application.strict import Strict
from domain.chat import Family as WireFamily
from domain.routing import MAX_PRIOR_LOGIT, RoutingPrior

Endpoint = Literal["chat_completions", "messages", "gemini"]
ENDPOINTS: tuple[Endpoint, ...] = ("chat_completions", "messages", "gemini")


class ModelSettings(Strict):
    # chat: served by the chat APIs and the router; embedding: only by POST /v1/embeddings.
    kind: Literal["chat", "embedding"] = "chat"
    input_per_mtok: float = Field(0.0, ge=0)
    output_per_mtok: float = Field(0.0, ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)
    cache_write_per_mtok: float | None = Field(None, ge=0)
    context_window: int = Field(128_000, gt=0)
    supports_tools: bool = True
    supports_vision: bool = False
    quality: float | None = Field(None, ge=0, le=1)


# Keys the original gateway accepted under provider_configs.<p> that mean nothing here.
_UNSUPPORTED_PROVIDER_KEYS = {
    "health_endpoint": "provider health comes from the circuit breakers (see /health)",
    "retry_config": "retries are set for every provider by fallback.max_retries, backoff_ms and max_backoff_ms",
}


OPENAI_BASE_URL = "https://api.openai.com/v1"


class ProviderSettings(Strict):
    kind: WireFamily  # the wire format the provider speaks
    base_url: str = ""
    api_key: str = ""
    # A provider that needs no key (a local Ollama or vLLM) is enabled without one.
    requires_key: bool = True
    timeout_ms: int = Field(60_000, gt=0)
    headers: dict[str, str] = Field(default_factory=dict)
    rate_limit_rpm: int | None = Field(None, gt=0)
    enabled: bool = True
    models: dict[str, ModelSettings] = Field(default_factory=dict)
    # The original gateway's custom authentication: the key is (also) sent in this header,
    # as `Bearer <key>` when auth_type is bearer, as the bare key for api_key; `none` sends no key.
    auth_type: Literal["bearer", "api_key", "none"] | None = None
    auth_header_name: str | None = Field(None, min_length=1, pattern=r"^[A-Za-z0-9-]+$")
    # Whether the provider serves the OpenAI Responses API (`POST /responses`): Responses requests
    # are then passed through instead of translated to chat completions. Unset: true for kind
    # openai at OpenAI's own URL, false for any other (OpenAI-compatible servers rarely have it).
    responses_api: bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _original_keys_without_meaning(cls, data: object) -> object:
        if isinstance(data, dict):
            for name, why in _UNSUPPORTED_PROVIDER_KEYS.items():
                if name in data:
                    raise ValueError(f"{name} is not supported by this gateway: {why}")
        return data

    @model_validator(mode="after")
    def _auth(self) -> ProviderSettings:
        if self.auth_type == "none":
            object.__setattr__(self, "requires_key", False)
        return self

    @model_validator(mode="after")
    def _responses_api_is_openai(self) -> ProviderSettings:
        if self.responses_api and self.kind != "openai":
            raise ValueError("responses_api: only a provider of kind openai can have the Responses API")
        return self

    @property
    def has_responses_api(self) -> bool:
        if self.responses_api is not None:
            return self.responses_api
        return self.kind == "openai" and self.base_url.rstrip("/") in ("", OPENAI_BASE_URL)

    def auth_headers(self) -> dict[str, str]:
        """Extra headers carrying the key under `auth_header_name`, when one is configured."""
        if not self.auth_header_name or not self.api_key or self.auth_type == "none":
            return dict(self.headers)
        value = f"Bearer {self.api_key}" if self.auth_type in (None, "bearer") else self.api_key
        return {**self.headers, self.auth_header_name: value}

    @property
    def active(self) -> bool:
        return self.enabled and bool(self.api_key or not self.requires_key)

    @property
    def timeout_s(self) -> float:
        return self.timeout_ms / 1000


class EndpointSettings(Strict):
    enabled: bool = True
    # Providers this API family may route to; empty means every active provider.
    providers: list[str] = Field(default_factory=list)


class CorsSettings(Strict):
    allow_origins: list[str] = Field(default_factory=list)
    allow_methods: list[str] = Field(default_factory=lambda: ["GET", "POST", "PATCH", "DELETE", "OPTIONS"])
    allow_headers: list[str] = Field(default_factory=lambda: ["*"])
    allow_credentials: bool = False
    max_age_s: int = 600

    @model_validator(mode="after")
    def _no_wildcard_with_credentials(self) -> CorsSettings:
        if self.allow_credentials and "*" in self.allow_origins:
            raise ValueError("a wildcard origin cannot be combined with allow_credentials")
        return self


class ServerSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1)
    environment: Literal["development", "production", "test"] = "development"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["text", "json"] = "text"  # json: one JSON object per line, for log shippers
    access_log: bool = True  # one line per request when it ends (logger adaptive_proxy.access, level INFO)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0)
    shutdown_timeout_s: float = Field(30.0, ge=0)
    # Model used when a request names none and routing is off.
    default_model: str = ""
    cors: CorsSettings = Field(default_factory=CorsSettings)


class ExternalRouterSettings(Strict):
    # An HTTP(S) routing service (adapters/routing/external.py); empty: the built-in router only.
    url: str = ""
    jwt_secret: str = ""
    timeout_ms: int = Field(500, gt=0)

    @model_validator(mode="after")
    def _url_and_secret(self) -> ExternalRouterSettings:
        if self.url:
            if not self.url.startswith(("http://", "https://")):
                raise ValueError("url must start with http:// or https://")
            if not self.jwt_secret:
                raise ValueError("jwt_secret is required when url is set (requests are signed with it)")
        return self


class RoutingCacheSettings(Strict):
    enabled: bool = True
    ttl_s: int = Field(3600, gt=0)
    max_entries: int = Field(10_000, gt=0)
    semantic: bool = False
    semantic_threshold: float = Field(0.95, gt=0, le=1)


class RoutingPriorSettings(Strict):
    # Logit shifts of the built-in router's difficulty for a request's features
    # (domain.routing, step 4); each within +-MAX_PRIOR_LOGIT. Server-only.
    agentic: float = Field(RoutingPrior().agentic, ge=-MAX_PRIOR_LOGIT, le=MAX_PRIOR_LOGIT)
    tools: float = Field(RoutingPrior().tools, ge=-MAX_PRIOR_LOGIT, le=MAX_PRIOR_LOGIT)

    def to_prior(self) -> RoutingPrior:
        return RoutingPrior(agentic=self.agentic, tools=self.tools)


def model_ref(item: object, index: int) -> object:
    """One `model_router.models` entry as a string: `provider:model` or a bare `provider`."""
    if not isinstance(item, dict):
        return item  # a string is kept; anything else fails the list[str] check with its index
    unknown = sorted(set(item) - {"provider", "model", "model_name"})
    if unknown:
        raise ValueError(f"models.{index}: unknown field {unknown[0]!r} (expected provider and model)")
    provider = item.get("provider")
    model = item.get("model", item.get("model_name"))
    if not isinstance(provider, str) or not provider:
        raise ValueError(f"models.{index}.provider must be a non-empty string")
    if model is None:
        return provider
    if not isinstance(model, str) or not model:
        raise ValueError(f"models.{index}.model must be a non-empty string")
    return f"{provider}:{model}"


class ModelRouterSettings(Strict):
    enabled: bool = True
    cost_bias: float = Field(0.5, ge=0, le=1)
    # Restrict routing to these models (empty: every model the endpoint may use). Each entry is
    # `provider:model`, or a bare `provider` for every model of that provider; the original
    # gateway's objects `{"provider": "openai"}`, `{"provider": "openai", "model": "gpt-4o"}`
    # (or `model_name`) are accepted and normalised to those strings.
    models: list[str] = Field(default_factory=list)

    @field_validator("models", mode="before")
    @classmethod
    def _model_refs(cls, value: object) -> object:
        if not isinstance(value, list):
            return value
        return [model_ref(item, index) for index, item in enumerate(value)]
    external: ExternalRouterSettings = Field(default_factory=ExternalRouterSettings)
    cache: RoutingCacheSettings = Field(default_factory=RoutingCacheSettings)
    prior: RoutingPriorSettings = Field(default_factory=RoutingPriorSettings)


class BreakerSettings(Strict):
    failure_threshold: int = Field(5, ge=1)
    success_threshold: int = Field(2, ge=1)
    open_timeout_ms: int = Field(30_000, gt=0)
    half_open_max_probes: int = Field(1, ge=1)
    per_model: bool = False


# The original's circuit_breaker fields -> ours. Its `timeout_ms` and `reset_after_ms` both name
# how long an open circuit waits before it lets a probe through: our `open_timeout_ms`.
_CIRCUIT_BREAKER_FIELDS = {
    "failure_threshold": "failure_threshold",
    "success_threshold": "success_threshold",
    "timeout_ms": "open_timeout_ms",
    "reset_after_ms": "open_timeout_ms",
}


class FallbackSettings(Strict):
    mode: Literal["sequential", "race", "off"] = "sequential"
    max_retries: int = Field(1, ge=0, le=10)
    backoff_ms: int = Field(100, ge=0)
    max_backoff_ms: int = Field(2_000, ge=0)
    timeout_ms: int = Field(120_000, gt=0)
    race_width: int = Field(2, ge=2, le=8)
    max_candidates: int = Field(3, ge=1)
    # Whether a manual `provider:model` request may fall back to other models.
    on_manual_override: bool = False
    breaker: BreakerSettings = Field(default_factory=BreakerSettings)

    @model_validator(mode="before")
    @classmethod
    def _original_circuit_breaker(cls, data: object) -> object:
        """The original gateway's `circuit_breaker` spelling, mapped onto `breaker`."""
        if not isinstance(data, dict) or "circuit_breaker" not in data:
            return data
        data = dict(data)
        original = data.pop("circuit_breaker")
        if not isinstance(original, dict):
            raise ValueError("circuit_breaker must be an object")
        mapped: dict[str, object] = dict(data.get("breaker") or {})
        # `reset_after_ms` wins over `timeout_ms` when both are given: apply it last.
        for name, value in sorted(original.items(), key=lambda item: item[0] == "reset_after_ms"):
            target = _CIRCUIT_BREAKER_FIELDS.get(name)
            if target is None:
                raise ValueError(f"circuit_breaker.{name} is not a known field (expected one of "
                                 + ", ".join(_CIRCUIT_BREAKER_FIELDS) + ")")
            mapped[target] = value
        data["breaker"] = mapped
        return data


class PromptCacheSettings(Strict):
    enabled: bool = False
    ttl_s: int = Field(3600, gt=0)
    max_entries: int = Field(10_000, gt=0)
    semantic: bool = False
    semantic_threshold: float = Field(0.95, gt=0, le=1)
    cache_nonzero_temperature: bool = False
    replay_chunk_delay_ms: int = Field(0, ge=0)
    # Who may share an entry when API keys are on: callers of one organization (a key without
    # one is its own scope), of one key, or everyone. A hit's speed tells its caller that someone
    # asked the same question before, so entries are not shared across organizations by default.
    scope: Literal["organization", "key", "global"] = "organization"
    # Semantic index: the most recent vectors kept per (target, parameters, conversation shape)
    # bucket, which bounds a lookup to that many comparisons; longer prompts are exact-only.
    semantic_candidates: int = Field(32, gt=0, le=1024)
    semantic_max_chars: int = Field(8000, gt=0)


class RedisSettings(Strict):
    url: str = ""
    key_prefix: str = "adaptive-proxy:"
    # A Redis command (or connection attempt) slower than this fails, and every Redis-backed store
    # switches to its local state at once (one shared circuit per client) ...
    timeout_ms: int = Field(250, gt=0, le=60_000)
    connect_timeout_ms: int = Field(250, gt=0, le=60_000)
    # ... until a background PING, sent at most this often while Redis is unreachable, answers.
    retry_interval_ms: int = Field(1000, gt=0, le=600_000)

    @field_validator("url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        # Checked here so a typo fails at startup, not when the first request reaches Redis.
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return value


class EmbeddingsSettings(Strict):
    provider: str = ""  # an OpenAI-kind provider name; empty disables semantic lookups
    model: str = "text-embedding-3-small"


class ResponsesSettings(Strict):
    """What `store: true` keeps for the Responses API (`previous_response_id`, GET, DELETE)."""

    store_ttl_s: float = Field(86_400, gt=0)  # in memory and in Redis
    store_max_entries: int = Field(10_000, gt=0)  # the oldest are dropped first (memory and Redis)


class DashboardSettings(Strict):
    """The admin dashboard under `/ui`. `enabled` unset: on exactly when `auth.admin_token` is set
    (the token is what an operator logs in with)."""

    enabled: bool | None = None
    session_ttl_s: int = Field(12 * 3600, gt=0)
    # Minutes of per-minute traffic buckets kept in memory per instance (default: one day).
    history_minutes: int = Field(24 * 60, ge=60, le=7 * 24 * 60)


class MetricsSettings(Strict):
    """Prometheus `GET /metrics`: on the gateway's port, or on its own `port` (0: same port)."""

    enabled: bool = True
    port: int = Field(0, ge=0, le=65535)
    bearer_token: str = ""  # set: scrapes must send `Authorization: Bearer <token>`


class TelemetrySettings(Strict):
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    # OpenTelemetry traces (the `otel` extra): on when this or OTEL_EXPORTER_OTLP_ENDPOINT is set.
    otlp_endpoint: str = ""
    service_name: str = "adaptive-proxy"


class Settings(Strict):
    server: ServerSettings = Field(default_factory=ServerSettings)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    endpoints: dict[Endpoint, EndpointSettings] = Field(
        default_factory=lambda: {family: EndpointSettings() for family in ENDPOINTS})
    model_router: ModelRouterSettings = Field(default_factory=ModelRouterSettings)
    fallback: FallbackSettings = Field(default_factory=FallbackSettings)
    prompt_cache: PromptCacheSettings = Field(default_factory=PromptCacheSettings)
    embeddings: EmbeddingsSettings = Field(default_factory=EmbeddingsSettings)
    responses: ResponsesSettings = Field(default_factory=ResponsesSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    credits: CreditsSettings = Field(default_factory=CreditsSettings)
    stripe: StripeSettings = Field(default_factory=StripeSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    usage: UsageSettings = Field(default_factory=UsageSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)

    @field_validator("providers")
    @classmethod
    def _provider_names(cls, value: dict[str, ProviderSettings]) -> dict[str, ProviderSettings]:
        for name in value:
            if not name or ":" in name:
                raise ValueError(f"provider name {name!r} must be non-empty and contain no ':'")
        return value

    @model_validator(mode="after")
    def _endpoint_providers_exist(self) -> Settings:
        for family, endpoint in self.endpoints.items():
            for name in endpoint.providers:
                if name not in self.providers:
                    raise ValueError(f"endpoints.{family}.providers names unknown provider {name!r}")
        return self

    @model_validator(mode="after")
    def _embeddings_provider_exists(self) -> Settings:
        name = self.embeddings.provider
        if name and (name not in self.providers or self.providers[name].kind != "openai"):
            raise ValueError(f"embeddings.provider {name!r} must name a provider of kind openai")
        return self

    @model_validator(mode="after")
    def _semantic_routing_needs_embeddings(self) -> Settings:
        cache = self.model_router.cache
        if cache.enabled and cache.semantic and not self.embeddings.provider:
            raise ValueError("model_router.cache.semantic needs embeddings.provider (an openai-kind provider)")
        return self

    @model_validator(mode="after")
    def _credits_need_keys(self) -> Settings:
        if self.credits.enabled and not self.auth.api_keys:
            raise ValueError("credits.enabled needs auth.api_keys: credits are charged to a key's organization")
        return self

    @model_validator(mode="after")
    def _dashboard_needs_admin_token(self) -> Settings:
        if self.dashboard.enabled and not self.auth.admin_token:
            raise ValueError("dashboard.enabled needs auth.admin_token: operators log in with it")
        return self

    @property
    def dashboard_enabled(self) -> bool:
        if self.dashboard.enabled is not None:
            return self.dashboard.enabled
        return bool(self.auth.admin_token)

    @property
    def usage_recording(self) -> bool:
        """Whether every request produces a usage record (see UsageSettings.enabled)."""
        if self.usage.enabled is not None:
            return self.usage.enabled
        return self.auth.api_keys or self.credits.enabled or bool(self.database.url)

    def active_providers(self) -> dict[str, ProviderSettings]:
        return {name: p for name, p in self.providers.items() if p.active}

    def endpoint_providers(self, family: Endpoint) -> list[str]:
        endpoint = self.endpoints.get(family)
        if endpoint is None or not endpoint.enabled:
            return []
        names = endpoint.providers or list(self.providers)
        return [n for n in names if n in self.providers and self.providers[n].active]
