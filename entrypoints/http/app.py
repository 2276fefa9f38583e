"""The BlackSheep application factory: routes, middleware, services, lifecycle."""

from __future__ import annotations

import gc
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from blacksheep import Application, Request, Response
from blacksheep.server.routing import Router

from application.billing import BillingService
from application.chat import ChatService
from application.dashboard import DashboardReads
from application.embeddings import EmbeddingService
from application.health import HealthService
from application.keys import KeyService
from application.model_selection import ModelSelectionService
from application.settings import ENDPOINTS, Endpoint, Settings
from container import Container
from domain.errors import NotFound
from domain.ports import ResponseStore
from entrypoints.http import (
    admin_routes,
    admin_stats_routes,
    anthropic_routes,
    embeddings_routes,
    gemini_routes,
    openai_routes,
    openapi,
    responses_routes,
    routing_routes,
    system_routes,
    webhook_routes,
)
from entrypoints.http.access import access_middleware
from entrypoints.http.middleware import Handler, gateway_middleware
from entrypoints.http.services import ContainerServices
from entrypoints.http.ui import routes as ui_routes

log = logging.getLogger("adaptive_proxy")
Middleware = Callable[[Request, Handler], Awaitable[Response]]

# A family's routes are registered only when `endpoints.<family>.enabled` (the YAML default
# enables all three; the library builder enables the families that have providers).
FAMILY_ROUTES: dict[Endpoint, Callable[[Router], None]] = {
    "chat_completions": openai_routes.register,
    "messages": anthropic_routes.register,
    "gemini": gemini_routes.register,
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adaptive-proxy")
    except PackageNotFoundError:
        return "0.0.0"


def served_families(settings: Settings) -> list[Endpoint]:
    return [f for f in ENDPOINTS if (endpoint := settings.endpoints.get(f)) is not None and endpoint.enabled]


async def not_served(request: Request) -> Response:
    """Unknown routes (and families that are not served) are a 404 in the caller's error shape."""
    raise NotFound(f"{request.method} {request.path} is not served here")


def _usage_state(container: Container) -> dict[str, Any]:
    writer = container.metering.usage_writer()
    return {"usage": writer.stats(), "spill_bytes": writer.spill_bytes()}


def create_app(container: Container, middlewares: Sequence[Middleware] = ()) -> Application:
    """`middlewares` (`async fn(request, next_handler)`) run in order after the gateway's own, so
    their errors still come out in each family's shape and they see only admitted requests."""
    settings: Settings = container.settings()
    services = ContainerServices({
        ChatService: container.chat_service,
        EmbeddingService: container.embedding_service,
        ResponseStore: container.response_store,
        HealthService: container.health_service,
        ModelSelectionService: container.model_selection,
        Settings: container.settings,
        KeyService: container.metering.key_service,
        BillingService: container.metering.billing_service,
        DashboardReads: container.dashboard_reads,
    })
    router = Router()  # a fresh router per app: two apps sharing one raise SharedRouterError
    for family in served_families(settings):
        FAMILY_ROUTES[family](router)
    if "chat_completions" in served_families(settings):  # the Responses API is OpenAI's too
        responses_routes.register(router)
        embeddings_routes.register(router)
    system_routes.register(router)
    routing_routes.register(router)
    if settings.auth.admin_token:  # no token, no admin API
        admin_routes.register(router)
        admin_stats_routes.register(router)
    if settings.dashboard_enabled:
        ui_routes.register(router, settings)
    metrics = container.metrics()
    telemetry = settings.telemetry.metrics
    probes: dict[str, Any] = {}
    if metrics is not None:
        probes = container.health_probes()
        if settings.usage_recording:
            metrics.watch(lambda: _usage_state(container))
    if metrics is not None and not telemetry.port:
        from entrypoints.http import metrics_routes

        metrics_routes.register(router, metrics, telemetry.bearer_token, probes)
    webhook_routes.register(router)
    system_routes.register_welcome(router)
    router.fallback = not_served
    app = Application(router=router, services=services)
    openapi.register(router, app, version=_version())
    app.middlewares.append(gateway_middleware(settings.server.max_body_bytes, container.observers(),
                                              spans=container.tracing(), clock=container.clock()))
    access = access_middleware_for(container, settings)  # None when keys, usage and admin API are all off
    if access is not None:
        app.middlewares.append(access)
    for middleware in middlewares:  # registration order, after the gateway's own
        app.middlewares.append(middleware)
    cors = settings.server.cors
    if cors.allow_origins:
        app.use_cors(allow_origins=cors.allow_origins, allow_methods=cors.allow_methods,
                     allow_headers=cors.allow_headers, allow_credentials=cors.allow_credentials,
                     max_age=cors.max_age_s, expose_headers=["x-request-id", "x-adaptive-provider",
                                                             "x-adaptive-model", "x-adaptive-selection",
                                                             "x-adaptive-cache", "x-adaptive-cost-usd",
                                                             "x-adaptive-overhead-ms", "server-timing"])

    servers: list[Any] = []

    async def on_start(_: Application) -> None:
        await container.init_resources()  # type: ignore[misc]
        # Everything built so far lives as long as the process: keep it out of the collector's
        # scans, so each request's short-lived objects (telemetry's among them) stay cheap to collect.
        gc.collect()
        gc.freeze()
        if metrics is not None and telemetry.port:
            from entrypoints.http import metrics_routes

            servers.append(await metrics_routes.serve_separately(metrics, settings.server.host, telemetry.port,
                                                                 telemetry.bearer_token, probes))

    async def on_stop(_: Application) -> None:
        for server in servers:
            server.close()
        await container.shutdown_resources()  # type: ignore[misc]
        tracing = container.tracing()
        if tracing is not None:
            tracing.shutdown()  # flushes the spans still batched

    app.on_start += on_start
    app.on_stop += on_stop
    return app


def access_middleware_for(container: Container, settings: Settings) -> Middleware | None:
    """The admin guard, access gate and usage ledger middleware; None when all three are off."""
    metering = container.metering.metering() if settings.usage_recording else None
    gate = container.metering.access_gate if settings.auth.api_keys else None
    if metering is None and gate is None and not settings.auth.admin_token:
        return None
    shed = container.metering.usage_writer().shed_request if metering is not None else None
    return access_middleware(metering, gate, settings.auth.admin_token, shed, settings.usage.shed_retry_after_s)
