"""Admin read endpoints for operators and the dashboard: traffic, providers, caches.

Guarded like every `/admin` route (`auth.admin_token`, see `entrypoints.http.access`).

- `GET /admin/stats/traffic?minutes=60`: totals and a per-minute series over the last
  `minutes` (1 up to `dashboard.history_minutes`): with Redis, every instance's traffic added up
  (`scope: shared`), else this instance's (`scope: instance`).
- `GET /admin/stats/providers`: each provider's state, breakers, last hour's traffic, catalog.
- `GET /admin/stats/caches`: response and routing cache entries and the last hour's hit rates.
- `POST /admin/caches/{response|routing}/clear`: empty a cache; `{"cache", "removed"}`.
"""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from application.dashboard import HOUR, DashboardReads
from domain.errors import InvalidRequest
from entrypoints.http.io import json_response


def register(router: Router) -> None:
    router.add_get("/admin/stats/traffic", traffic)
    router.add_get("/admin/stats/providers", providers)
    router.add_get("/admin/stats/caches", caches)
    router.add_post("/admin/caches/{name}/clear", clear_cache)


def window_minutes(request: Request, limit: int) -> int:
    values = request.query.get("minutes")
    if not values:
        return HOUR
    raw = values[0]
    if not raw.isdigit() or not 1 <= int(raw) <= limit:
        raise InvalidRequest(f"minutes must be an integer from 1 to {limit}", param="minutes")
    return int(raw)


async def traffic(request: Request, reads: DashboardReads) -> Response:
    return json_response(await reads.traffic(window_minutes(request, reads.traffic_stats.capacity_minutes)))


async def providers(reads: DashboardReads) -> Response:
    return json_response(await reads.providers())


async def caches(reads: DashboardReads) -> Response:
    return json_response(await reads.caches())


async def clear_cache(name: str, reads: DashboardReads) -> Response:
    return json_response({"cache": name, "removed": await reads.clear_cache(name)})
