"""The BlackSheep application factory: routes, middleware, services, lifecycle."""

from __future__ import annotations

import logging

from blacksheep import Application
from blacksheep.server.routing import Router

from application.chat import ChatService
from application.health import HealthService
from application.settings import Settings
from container import Container
from entrypoints.http import anthropic_routes, gemini_routes, openai_routes, system_routes
from entrypoints.http.middleware import gateway_middleware
from entrypoints.http.services import ContainerServices

log = logging.getLogger("adaptive_proxy")


def create_app(container: Container) -> Application:
    settings: Settings = container.settings()
    services = ContainerServices({
        ChatService: container.chat_service,
        HealthService: container.health_service,
        Settings: container.settings,
    })
    router = Router()  # a fresh router per app: two apps sharing one raise SharedRouterError
    openai_routes.register(router)
    anthropic_routes.register(router)
    gemini_routes.register(router)
    system_routes.register(router)
    app = Application(router=router, services=services)
    app.middlewares.append(gateway_middleware(settings.server.max_body_bytes))
    cors = settings.server.cors
    if cors.allow_origins:
        app.use_cors(allow_origins=cors.allow_origins, allow_methods=cors.allow_methods,
                     allow_headers=cors.allow_headers, allow_credentials=cors.allow_credentials,
                     max_age=cors.max_age_s, expose_headers=["x-request-id", "x-adaptive-provider",
                                                             "x-adaptive-model", "x-adaptive-selection",
                                                             "x-adaptive-cache"])

    async def on_start(_: Application) -> None:
        await container.init_resources()  # type: ignore[misc]

    async def on_stop(_: Application) -> None:
        await container.shutdown_resources()  # type: ignore[misc]

    app.on_start += on_start
    app.on_stop += on_stop
    return app
