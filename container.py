"""The dependency-injection container: read top-down — settings, clients, adapters, services.

Only this module (and the app factory it feeds) knows concrete adapters. Build one with
`build_container(settings)`; tests override any provider with `container.X.override(...)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
from dependency_injector import containers, providers

from adapters.providers.factory import SdkProviderFactory, shared_http_client
from application.chat import ChatService
from application.health import HealthService
from application.providers import ProviderRegistry
from application.request_config import base_config
from application.settings import Settings


async def _lifecycle(http_client: httpx2.AsyncClient, registry: ProviderRegistry) -> AsyncIterator[None]:
    """Started by `init_resources()`, closed by `shutdown_resources()`; nothing depends on it."""
    yield None
    await registry.aclose()
    await http_client.aclose()


def _embedded_components(settings: Settings) -> dict[str, dict[str, Any]]:
    embedded: dict[str, dict[str, Any]] = {}
    if not settings.redis.url:
        embedded["redis"] = {"mode": "in-memory (no redis.url configured)"}
    if not settings.database.url:
        embedded["database"] = {"mode": "embedded SQLite"}
    return embedded


class Container(containers.DeclarativeContainer):
    settings = providers.Object(Settings())

    # --- infrastructure clients -----------------------------------------------------------
    http_client = providers.Singleton(shared_http_client)

    # --- adapters -------------------------------------------------------------------------
    provider_factory = providers.Singleton(SdkProviderFactory, http_client=http_client)
    registry = providers.Singleton(ProviderRegistry, factory=provider_factory,
                                   providers=settings.provided.providers)
    base_request_config = providers.Singleton(base_config, settings)

    # --- application services (Factory: cheap, and overrides apply on every request) -----
    chat_service = providers.Factory(ChatService, settings=settings, registry=registry, base=base_request_config)
    health_service = providers.Singleton(HealthService, settings=settings,
                                         embedded=providers.Callable(_embedded_components, settings))

    lifecycle = providers.Resource(_lifecycle, http_client=http_client, registry=registry)


def build_container(settings: Settings) -> Container:
    container = Container()
    container.settings.override(providers.Object(settings))
    return container
