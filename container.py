"""The dependency-injection container: read top-down — settings, clients, adapters, services.

Only this module (and the app factory it feeds) knows concrete adapters. Build one with
`build_container(settings)`; tests override any provider with `container.X.override(...)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import httpx2
import redis.asyncio as redis_asyncio
from dependency_injector import containers, providers

from adapters.analytics.lifecycle import after_ledger_write, clickhouse_exporter, export_lifecycle
from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.memory.keyed_cache import InMemoryResponseCache, InMemoryRouteCache
from adapters.memory.rate_limiter import InMemoryRateLimiter
from adapters.memory.response_store import InMemoryResponseStore
from adapters.providers.factory import SdkProviderFactory, shared_http_client
from adapters.redis.breaker_history import RedisBreakerHistory
from adapters.redis.breaker_store import RedisBreakerStore
from adapters.redis.circuit import RedisCircuit
from adapters.redis.client import close_redis, redis_circuit, redis_client, redis_probe
from adapters.redis.keyed_cache import RedisResponseCache, RedisRouteCache
from adapters.redis.rate_limiter import RedisRateLimiter
from adapters.redis.response_store import RedisResponseStore
from adapters.redis.traffic_buckets import RedisTrafficBuckets
from adapters.routing.external import ExternalRouter
from adapters.routing.params_file import DEFAULT_PARAMS_PATH, load_estimator
from adapters.sql.credits import SqlCreditLedger
from adapters.sql.engine import create_engine, database_probe
from adapters.sql.keys import SqlApiKeyStore
from adapters.sql.lifecycle import metering_lifecycle, usage_writer
from adapters.sql.usage import SqlUsageStore
from adapters.system_clock import SystemClock
from adapters.telemetry import tracing_endpoint
from adapters.telemetry.logs import AccessLog
from adapters.wire.codecs import residue as wire_residue
from application.access import AccessGate, RateLimitedProviderFactory
from application.billing import BillingService
from application.breaker_history import BreakerHistory, TransitionLog
from application.dashboard import DashboardReads
from application.embeddings import EmbeddingService
from application.execution import Executor
from application.health import HealthService, Section, breaker_section, status_section
from application.keys import KeyCache, KeyService
from application.metered_chat import MeteredChat
from application.metering import Metering, PendingSpend
from application.model_selection import ModelSelectionService
from application.providers import ProviderRegistry
from application.request_config import base_config
from application.response_cache import ResponseCaching, config_namespace
from application.routing import BuiltinRouter, Guard, RoutingService
from application.selection import Selector, catalog_for
from application.settings import BreakerSettings, Settings
from application.shared_traffic import SharedTraffic
from application.traffic_stats import TrafficStats
from domain.breaker import BreakerPolicy
from domain.catalog import Catalog
from domain.ports import BreakerStore, Clock, ResponseStore
from domain.routing import Router, RoutingPrior
from domain.telemetry import Observers

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from adapters.providers.embeddings import OpenAIEmbedder
    from adapters.stripe.payments import StripePaymentEvents
    from adapters.telemetry.otel import Tracing
    from adapters.telemetry.prometheus import PrometheusMetrics


T = TypeVar("T")


def _when(enabled: bool, provider: Callable[[], T]) -> Callable[[], T] | None:
    """`provider` (called when first needed) if the feature is on, else None."""
    return provider if enabled else None


def _store_kind(settings: Settings) -> str:
    return "redis" if settings.redis.url else "memory"


def _breaker_policy(settings: BreakerSettings) -> BreakerPolicy:
    return BreakerPolicy(failure_threshold=settings.failure_threshold, success_threshold=settings.success_threshold,
                         open_timeout_s=settings.open_timeout_ms / 1000,
                         half_open_max_probes=settings.half_open_max_probes)


Probe = Callable[[], Awaitable[dict[str, Any]]]


def _redis(settings: Settings) -> redis_asyncio.Redis | None:
    return redis_client(settings.redis.url, timeout_s=settings.redis.timeout_ms / 1000,
                        connect_timeout_s=settings.redis.connect_timeout_ms / 1000)


def _redis_circuit(settings: Settings, redis: redis_asyncio.Redis | None, clock: Clock) -> RedisCircuit | None:
    """One circuit for the one Redis client: every Redis-backed store below shares it."""
    return redis_circuit(redis, clock, retry_after_s=settings.redis.retry_interval_ms / 1000)


def _probes(settings: Settings, circuit: RedisCircuit | None, engine: Callable[[], Any]) -> dict[str, Probe]:
    probes = {"redis": redis_probe(circuit)} if circuit is not None else {}
    if settings.database.url:  # the embedded SQLite file is reported as embedded, not probed
        probes["database"] = database_probe(engine())
    return probes


def _sections(settings: Settings, breakers: Section, routing: Section, key_cache: KeyCache,
              rate_limiter: Any, response_store: Any = None) -> dict[str, Section]:
    sections = {"breakers": breakers, "routing": routing}
    if isinstance(response_store, RedisResponseStore):
        sections["responses"] = status_section(response_store.status)
    if settings.auth.api_keys and isinstance(rate_limiter, RedisRateLimiter):
        sections["rate_limits"] = status_section(rate_limiter.status)
    if settings.auth.api_keys:
        sections["api_keys"] = status_section(key_cache.status)
    return sections


def _embedded_components(settings: Settings) -> dict[str, dict[str, Any]]:
    embedded: dict[str, dict[str, Any]] = {}
    if not settings.redis.url:
        embedded["redis"] = {"mode": "in-memory (no redis.url configured)"}
    if not settings.database.url:
        embedded["database"] = {"mode": "embedded SQLite"}
    return embedded


async def _lifecycle(http_client: httpx2.AsyncClient, registry: ProviderRegistry,
                     redis: redis_asyncio.Redis | None, router: Router,
                     redis_circuit: RedisCircuit | None = None) -> AsyncIterator[None]:
    """Started by `init_resources()`, closed by `shutdown_resources()`; nothing depends on it.

    Taking `router` loads the router's fitted parameters at startup, not at the first request.
    """
    yield None
    await registry.aclose()
    await http_client.aclose()
    await close_redis(redis, redis_circuit)


def _instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


async def _traffic_lifecycle(shared: SharedTraffic | None) -> AsyncIterator[None]:
    """Copies this instance's traffic buckets to the shared store in the background."""
    task = asyncio.create_task(shared.run()) if shared is not None else None
    yield None
    if task is not None and shared is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await shared.flush()


def _params_version() -> str:
    """The shipped router parameters' digest: cached decisions of other parameters are not reused."""
    return hashlib.sha256(DEFAULT_PARAMS_PATH.read_bytes()).hexdigest()[:12]


def _routing_prior(settings: Settings) -> RoutingPrior:
    return settings.model_router.prior.to_prior()


def _external_router(settings: Settings, http_client: httpx2.AsyncClient) -> ExternalRouter | None:
    external = settings.model_router.external
    if not external.url:
        return None
    return ExternalRouter(external.url, external.jwt_secret, external.timeout_ms / 1000, http_client)


def _pricing_catalog(settings: Settings) -> Catalog:
    """Prices come from the YAML only: a request's provider overrides never change what it costs."""
    return catalog_for(base_config(settings), list(settings.providers), kinds=("chat", "embedding"))


def _payments(settings: Settings) -> StripePaymentEvents | None:
    stripe = settings.stripe
    if not (stripe.secret_key or stripe.webhook_secret):
        return None
    from adapters.stripe.payments import StripePaymentEvents  # the stripe SDK only when configured

    return StripePaymentEvents(stripe.secret_key, stripe.webhook_secret, stripe.api_base)


def _metrics(settings: Settings) -> PrometheusMetrics | None:
    if not settings.telemetry.metrics.enabled:
        return None
    from adapters.telemetry.prometheus import PrometheusMetrics

    return PrometheusMetrics()


def _tracing(settings: Settings) -> Tracing | None:
    endpoint = tracing_endpoint(settings)
    if not endpoint:
        return None
    try:
        from adapters.telemetry.otel import tracing_for  # opentelemetry only when traces are on
    except ImportError:
        log.warning("traces: %s is set but OpenTelemetry is not installed (pip install 'adaptive-proxy[otel]')",
                    endpoint)
        return None
    return tracing_for(settings)


def _trace_headers(tracing: Tracing | None) -> Callable[[Any], None] | None:
    return tracing.inject_headers if tracing is not None else None


def _observers(settings: Settings, traffic_stats: Callable[[], TrafficStats],
               metrics: Callable[[], PrometheusMetrics | None], tracing: Callable[[], Tracing | None]) -> Observers:
    """The one place the request observers are chosen, from the settings."""
    observers = Observers()
    if (tracer := tracing()) is not None:
        observers.add(tracer)
    if settings.server.access_log:
        observers.add(AccessLog(settings.server.log_format))
    if (prometheus := metrics()) is not None:
        observers.add(prometheus)
    if settings.auth.admin_token:  # the dashboard's traffic ring
        observers.add(traffic_stats())
    return observers


class MeteringContainer(containers.DeclarativeContainer):
    """API keys, rate limits, usage records, credits and payments (SQL + Redis/memory + Stripe)."""

    settings = providers.Dependency(instance_of=Settings)
    redis: providers.Dependency[Any] = providers.Dependency()
    redis_circuit: providers.Dependency[Any] = providers.Dependency()
    store_kind = providers.Dependency(instance_of=str)
    clock: providers.Dependency[Any] = providers.Dependency()

    engine = providers.Singleton(create_engine, settings.provided.database.url)
    key_store = providers.Singleton(SqlApiKeyStore, engine=engine)
    usage_store = providers.Singleton(SqlUsageStore, engine=engine)
    credit_ledger = providers.Singleton(SqlCreditLedger, engine=engine)
    rate_limiter = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisRateLimiter, client=redis, key_prefix=settings.provided.redis.key_prefix,
                                  clock=clock, circuit=redis_circuit),
        memory=providers.Singleton(InMemoryRateLimiter),
    )
    payments = providers.Singleton(_payments, settings)
    pending = providers.Singleton(PendingSpend)
    http_client: providers.Dependency[Any] = providers.Dependency()
    clickhouse_export = providers.Singleton(clickhouse_exporter, settings, http_client)  # usage.export.clickhouse
    usage_writer = providers.Singleton(usage_writer, settings, sink=usage_store, engine=engine,
                                       on_written=providers.Callable(after_ledger_write, pending.provided.settle,
                                                                     clickhouse_export),
                                       on_adopted=providers.Callable(after_ledger_write, None, clickhouse_export))
    pricing = providers.Singleton(_pricing_catalog, settings)
    metering = providers.Singleton(Metering, queue=usage_writer, catalog=pricing,
                                   pending=pending, currency=settings.provided.credits.currency,
                                   charge_credits=settings.provided.credits.enabled, clock=clock)

    key_cache = providers.Singleton(KeyCache, ttl_s=settings.provided.auth.key_cache_ttl_s,
                                    grace_s=settings.provided.auth.key_cache_grace_s, clock=clock)
    key_service = providers.Factory(KeyService, store=key_store, cache=key_cache, clock=clock)
    access_gate = providers.Factory(AccessGate, settings=settings, keys=key_service, limiter=rate_limiter,
                                    ledger=credit_ledger, pending=pending, clock=clock)
    billing_service = providers.Factory(BillingService, ledger=credit_ledger, usage=usage_store, payments=payments,
                                        currency=settings.provided.credits.currency)

    lifecycle = providers.Resource(metering_lifecycle, settings, engine=engine.provider,
                                   writer=usage_writer.provider, payments=payments.provider,
                                   store=usage_store.provider)
    clickhouse_lifecycle = providers.Resource(export_lifecycle, exporter=clickhouse_export.provider,
                                              shutdown_timeout_s=settings.provided.server.shutdown_timeout_s)


def _embedder(settings: Settings, http_client: httpx2.AsyncClient) -> OpenAIEmbedder | None:
    name = settings.embeddings.provider
    provider = settings.providers.get(name) if name else None
    if provider is None or not provider.active:
        return None
    from adapters.providers.embeddings import OpenAIEmbedder

    return OpenAIEmbedder(name, base_url=provider.base_url or "https://api.openai.com/v1", api_key=provider.api_key,
                          model=settings.embeddings.model, timeout_s=min(provider.timeout_s, 10.0),
                          headers=provider.headers, http_client=http_client)


class CacheContainer(containers.DeclarativeContainer):
    """The prompt-response cache: its store (Redis when configured, else in-process) and embedder."""

    settings = providers.Dependency(instance_of=Settings)
    redis: providers.Dependency[Any] = providers.Dependency()
    redis_circuit: providers.Dependency[Any] = providers.Dependency()
    store_kind = providers.Dependency(instance_of=str)
    http_client: providers.Dependency[Any] = providers.Dependency()
    clock: providers.Dependency[Any] = providers.Dependency()

    store = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisResponseCache, client=redis, prefix=settings.provided.redis.key_prefix,
                                  max_entries=settings.provided.prompt_cache.max_entries,
                                  max_ttl_s=settings.provided.prompt_cache.ttl_s,
                                  per_bucket=settings.provided.prompt_cache.semantic_candidates,
                                  clock=clock, circuit=redis_circuit),
        memory=providers.Singleton(InMemoryResponseCache, max_entries=settings.provided.prompt_cache.max_entries,
                                   per_bucket=settings.provided.prompt_cache.semantic_candidates),
    )
    embedder = providers.Singleton(_embedder, settings, http_client)
    # Singleton: it holds only singletons and the settings, and the request path (cache off) then
    # pays no construction.
    response_caching = providers.Singleton(ResponseCaching, settings=settings, store=store, embedder=embedder,
                                           residue=providers.Object(wire_residue),
                                           namespace=providers.Callable(config_namespace, settings), clock=clock)


class Container(containers.DeclarativeContainer):
    settings = providers.Object(Settings())
    store_kind = providers.Callable(_store_kind, settings)

    # --- infrastructure clients -----------------------------------------------------------
    # OpenTelemetry traces (the `otel` extra), None unless an OTLP endpoint is configured.
    tracing = providers.Singleton(_tracing, settings)
    http_client = providers.Singleton(shared_http_client,
                                      outgoing_headers=providers.Callable(_trace_headers, tracing))
    redis = providers.Singleton(_redis, settings)
    clock = providers.Singleton(SystemClock)
    # One circuit for the Redis client, shared by every Redis-backed store: the first that finds
    # Redis frozen or dead sends them all to local state; a background PING brings them all back.
    redis_circuit = providers.Singleton(_redis_circuit, settings, redis, clock)

    # --- adapters -------------------------------------------------------------------------
    metering = providers.Container(MeteringContainer, settings=settings, redis=redis, redis_circuit=redis_circuit,
                                   store_kind=store_kind, clock=clock, http_client=http_client)
    provider_factory = providers.Singleton(SdkProviderFactory, http_client=http_client)
    limited_provider_factory = providers.Singleton(RateLimitedProviderFactory, inner=provider_factory,
                                                   limiter=metering.rate_limiter, settings=settings.provided.rate_limit)
    registry = providers.Singleton(ProviderRegistry, factory=limited_provider_factory,
                                   providers=settings.provided.providers)
    cache = providers.Container(CacheContainer, settings=settings, redis=redis, redis_circuit=redis_circuit,
                                store_kind=store_kind, http_client=http_client, clock=clock)
    breaker_store: providers.Provider[BreakerStore] = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisBreakerStore, client=redis, prefix=settings.provided.redis.key_prefix,
                                  circuit=redis_circuit),
        memory=providers.Singleton(InMemoryBreakerStore),
    )
    # The recent breaker transitions (dashboard), fed by the executor.
    local_breaker_history = providers.Singleton(BreakerHistory)
    breaker_history: providers.Provider[TransitionLog] = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisBreakerHistory, client=redis, prefix=settings.provided.redis.key_prefix,
                                  local=local_breaker_history, circuit=redis_circuit),
        memory=local_breaker_history,
    )

    response_store: providers.Provider[ResponseStore] = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisResponseStore, client=redis, clock=clock,
                                  prefix=settings.provided.redis.key_prefix,
                                  ttl_s=settings.provided.responses.store_ttl_s,
                                  max_entries=settings.provided.responses.store_max_entries,
                                  circuit=redis_circuit),
        memory=providers.Singleton(InMemoryResponseStore, clock=clock, ttl_s=settings.provided.responses.store_ttl_s,
                                   max_entries=settings.provided.responses.store_max_entries),
    )

    # The dashboard: a per-instance traffic ring (a RequestObserver) and the read model over it.
    traffic_stats = providers.Singleton(TrafficStats, clock=clock,
                                        minutes=settings.provided.dashboard.history_minutes)
    # Every finished request's RequestRecord goes here (access log, metrics, traces, dashboard);
    # the library adds its own with `container.observers().add(...)`.
    metrics = providers.Singleton(_metrics, settings)
    observers = providers.Singleton(_observers, settings, traffic_stats.provider, metrics.provider,
                                    tracing.provider)

    # --- domain policies and application services -----------------------------------------
    base_request_config = providers.Singleton(base_config, settings)
    breaker_policy = providers.Singleton(_breaker_policy, settings.provided.fallback.breaker)
    # Backoff waits between retries; tests override it to record waits instead of sleeping.
    sleep: providers.Provider[Callable[[float], Awaitable[None]]] = providers.Object(asyncio.sleep)
    executor = providers.Singleton(Executor, breakers=breaker_store, breaker_policy=breaker_policy, clock=clock,
                                   sleep=sleep, observers=observers, history=breaker_history)
    estimator = providers.Singleton(load_estimator)
    router = providers.Singleton(Router, estimator=estimator,
                                 prior=providers.Callable(_routing_prior, settings))
    route_cache = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisRouteCache, client=redis, prefix=settings.provided.redis.key_prefix,
                                  max_entries=settings.provided.model_router.cache.max_entries,
                                  max_ttl_s=settings.provided.model_router.cache.ttl_s,
                                  per_bucket=settings.provided.prompt_cache.semantic_candidates,
                                  clock=clock, circuit=redis_circuit),
        memory=providers.Singleton(InMemoryRouteCache, max_entries=settings.provided.model_router.cache.max_entries,
                                   per_bucket=settings.provided.prompt_cache.semantic_candidates),
    )
    routing = providers.Singleton(
        RoutingService,
        builtin=providers.Singleton(BuiltinRouter, router=router, version=providers.Callable(_params_version)),
        external=providers.Singleton(_external_router, settings, http_client),
        guard=providers.Singleton(Guard, store=breaker_store, policy=breaker_policy, clock=clock,
                                  per_model=settings.provided.fallback.breaker.per_model),
        cache=route_cache, embedder=cache.embedder, cache_ttl_s=settings.provided.model_router.cache.ttl_s,
        semantic_max_chars=settings.provided.prompt_cache.semantic_max_chars,
    )
    selector = providers.Singleton(Selector, settings=settings, router=router, routing=routing)
    model_selection = providers.Factory(ModelSelectionService, routing=routing,
                                        options=settings.provided.model_router)
    # The chat use case every frontend calls: observed, metered and admitted (MeteredChat); the
    # ledger and the gate are handed over as providers, None when usage recording / API keys are off.
    # Singleton: it holds only singletons and providers; building it per request was ~3 % of the
    # gateway's profile samples on a plain request (override collaborators before the first request).
    chat_service = providers.Singleton(MeteredChat, settings=settings, registry=registry, executor=executor,
                                       clock=clock, selector=selector, base=base_request_config,
                                       cache=cache.response_caching,
                                       observers=observers, pricing=metering.pricing,
                                       metering=providers.Callable(_when, settings.provided.usage_recording,
                                                                   metering.metering.provider),
                                       gate=providers.Callable(_when, settings.provided.auth.api_keys,
                                                               metering.access_gate.provider))
    embedding_service = providers.Factory(EmbeddingService, settings=settings, registry=registry,
                                          executor=executor, base=base_request_config)
    health_probes = providers.Callable(_probes, settings, redis_circuit, metering.engine.provider)
    health_service = providers.Singleton(
        HealthService, settings=settings,
        probes=health_probes,
        embedded=providers.Callable(_embedded_components, settings),
        sections=providers.Callable(_sections, settings, providers.Callable(breaker_section, breaker_store),
                                    routing.provided.health, metering.key_cache,
                                    metering.rate_limiter, response_store),
        clock=clock,
    )
    # With Redis, each instance's buckets are copied there every second so the dashboard adds them up.
    shared_traffic: providers.Provider[SharedTraffic | None] = providers.Selector(
        store_kind,
        redis=providers.Singleton(SharedTraffic, local=traffic_stats, instance=providers.Callable(_instance_id),
                                  store=providers.Singleton(RedisTrafficBuckets, client=redis,
                                                            prefix=settings.provided.redis.key_prefix,
                                                            circuit=redis_circuit)),
        memory=providers.Object(None),
    )
    traffic_lifecycle = providers.Resource(_traffic_lifecycle, shared=shared_traffic)
    dashboard_reads = providers.Factory(DashboardReads, shared_traffic=shared_traffic, settings=settings,
                                        traffic_stats=traffic_stats,
                                        breakers=breaker_store, breaker_policy=breaker_policy,
                                        breaker_history=breaker_history, catalog=metering.pricing, clock=clock,
                                        response_cache=cache.store,
                                        route_cache=route_cache)

    lifecycle = providers.Resource(_lifecycle, http_client=http_client, registry=registry, redis=redis,
                                   router=router, redis_circuit=redis_circuit)


def build_container(settings: Settings) -> Container:
    container = Container()
    container.settings.override(providers.Object(settings))
    return container
