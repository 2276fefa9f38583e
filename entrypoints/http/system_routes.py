"""Operational routes: health, and the welcome document at `/` (as the original gateway serves)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from blacksheep import Response
from blacksheep.server.routing import Router

from application.health import HealthService
from entrypoints.http.io import json_response


def register(router: Router) -> None:
    router.add_get("/health", health)


def register_welcome(router: Router) -> None:
    """`GET /`: service, version and the endpoints this instance serves (read from the router
    once the app has started, so disabled families and the admin API are listed only when on)."""
    listed: list[dict[str, Any]] = []

    async def welcome() -> Response:
        if not listed:
            listed.extend(_endpoints(router))
        return json_response({"service": "adaptive-proxy", "version": _version(), "status": "ok",
                              "endpoints": listed})

    router.add_get("/", welcome)


def _endpoints(router: Router) -> list[dict[str, Any]]:
    seen: dict[str, set[str]] = {}
    for method, routes in router.routes.items():
        for route in routes:
            path = route.pattern.decode()
            if path != "/":
                seen.setdefault(path, set()).add(method.decode())
    return [{"path": path, "methods": sorted(methods)} for path, methods in sorted(seen.items())]


def _version() -> str:
    try:
        return version("adaptive-proxy")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0+unknown"


async def health(health: HealthService) -> Response:
    healthy, report = await health.report()
    return json_response(report, status=200 if healthy else 503)
