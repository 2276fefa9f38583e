"""Operational routes: health."""

from __future__ import annotations

from blacksheep import Response
from blacksheep.server.routing import Router

from application.health import HealthService
from entrypoints.http.io import json_response


def register(router: Router) -> None:
    router.add_get("/health", health)


async def health(health: HealthService) -> Response:
    healthy, report = await health.report()
    return json_response(report, status=200 if healthy else 503)
