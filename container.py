"""The dependency-injection container: read top-down — settings, clients, adapters, services.

Only this module (and the app factory it feeds) knows concrete adapters. Build one with
`build_container(settings)`; tests override any provider with `container.X.override(...)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import redis.asyncio as redis_asyncio
from dependency_injector import containers, providers

from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.providers.factory import SdkProviderFactory, shared_http_client
from adapters.redis.breaker_store import RedisBreakerStore
from adapters.redis.client import close_redis, redis_client, redis_probe
from adapters.system_clock import SystemClock
from application.chat import ChatService
from application.execution import Executor
from application.health import HealthService, breaker_section
from application.providers import ProviderRegistry
from application.request_config import base_config
from application.selection import Selector
from application.settings import BreakerSettings, Settings
from domain.breaker import BreakerPolicy
from domain.ports import BreakerStore


def _store_kind(settings: Settings) -> str:
    return "redis" if settings.redis.url else "memory"


def _breaker_policy(settings: BreakerSettings) -> BreakerPolicy:
    return BreakerPolicy(failure_threshold=settings.failure_threshold, success_threshold=settings.success_threshold,
                         open_timeout_s=settings.open_timeout_ms / 1000,
                         half_open_max_probes=settings.half_open_max_probes)


Probe = Callable[[], Awaitable[dict[str, Any]]]


def _probes(settings: Settings, redis: redis_asyncio.Redis | None) -> dict[str, Probe]:
    return {"redis": redis_probe(redis)} if redis is not None else {}


def _embedded_components(settings: Settings) -> dict[str, dict[str, Any]]:
    embedded: dict[str, dict[str, Any]] = {}
    if not settings.redis.url:
        embedded["redis"] = {"mode": "in-memory (no redis.url configured)"}
    if not settings.database.url:
        embedded["database"] = {"mode": "embedded SQLite"}
    return embedded


async def _lifecycle(http_client: httpx2.AsyncClient, registry: ProviderRegistry,
                     redis: redis_asyncio.Redis | None) -> AsyncIterator[None]:
    """Started by `init_resources()`, closed by `shutdown_resources()`; nothing depends on it."""
    yield None
    await registry.aclose()
    await http_client.aclose()
    await close_redis(redis)


class Container(containers.DeclarativeContainer):
    settings = providers.Object(Settings())
    store_kind = providers.Callable(_store_kind, settings)

    # --- infrastructure clients -----------------------------------------------------------
    http_client = providers.Singleton(shared_http_client)
    redis = providers.Singleton(redis_client, settings.provided.redis.url)
    clock = providers.Singleton(SystemClock)

    # --- adapters -------------------------------------------------------------------------
    provider_factory = providers.Singleton(SdkProviderFactory, http_client=http_client)
    registry = providers.Singleton(ProviderRegistry, factory=provider_factory,
                                   providers=settings.provided.providers)
    breaker_store: providers.Provider[BreakerStore] = providers.Selector(
        store_kind,
        redis=providers.Singleton(RedisBreakerStore, client=redis, prefix=settings.provided.redis.key_prefix),
        memory=providers.Singleton(InMemoryBreakerStore),
    )

    # --- domain policies and application services -----------------------------------------
    base_request_config = providers.Singleton(base_config, settings)
    breaker_policy = providers.Singleton(_breaker_policy, settings.provided.fallback.breaker)
    executor = providers.Singleton(Executor, breakers=breaker_store, breaker_policy=breaker_policy, clock=clock)
    selector = providers.Singleton(Selector, settings=settings)
    # Factory: cheap, and container overrides apply on every request.
    chat_service = providers.Factory(ChatService, settings=settings, registry=registry, executor=executor,
                                     selector=selector, base=base_request_config)
    health_service = providers.Singleton(
        HealthService, settings=settings,
        probes=providers.Callable(_probes, settings, redis),
        embedded=providers.Callable(_embedded_components, settings),
        sections=providers.Dict(breakers=providers.Callable(breaker_section, breaker_store)),
    )

    lifecycle = providers.Resource(_lifecycle, http_client=http_client, registry=registry, redis=redis)


def build_container(settings: Settings) -> Container:
    container = Container()
    container.settings.override(providers.Object(settings))
    return container
