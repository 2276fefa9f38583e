"""An interim source of `RequestRecord`s for the dashboard, used only while the container has no
`observers` (the chat path's own records, domain/telemetry.py, replace it as soon as they exist).

A middleware inside the access middleware: for each `/v1*` request it times the handler and
builds a record from the response's `x-adaptive-*` headers and, when usage is recorded, the
request's usage ledger (tokens; cost from the pricing catalog; the best-candidate cost is the
same tokens on the catalog's highest-quality model). Limits, said plainly: no upstream timing
(so no overhead figure: the record says `no_upstream_timing`), and a stream is recorded when its
response starts, without its tokens.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from blacksheep import Request, Response

from application.metering import CACHE_MISSES, RequestMeter
from application.traffic_stats import NO_UPSTREAM_TIMING, TrafficStats
from domain.catalog import Catalog, ModelInfo
from domain.chat import Usage
from domain.credits import cost_usd
from domain.telemetry import RequestRecord
from entrypoints.http.access import is_metered
from entrypoints.http.errors import STATUS, describe

Handler = Callable[[Request], Awaitable[Response]]
Middleware = Callable[[Request, Handler], Awaitable[Response]]


def _header(response: Response, name: bytes) -> str | None:
    value = response.get_first_header(name)
    return value.decode("latin-1") if value else None


def traffic_feed(stats: TrafficStats, catalog: Catalog) -> Middleware:
    best: ModelInfo | None = max(catalog, key=lambda m: m.quality_prior() or 0.0, default=None)

    def observe(request: Request, started: float, status: int, response: Response | None,
                error_kind: str | None) -> None:
        meter: RequestMeter | None = getattr(request, "meter", None)  # set by the access middleware
        usage = meter.usage if meter is not None and meter.usage is not None else Usage()
        provider = _header(response, b"x-adaptive-provider") if response is not None else None
        model = _header(response, b"x-adaptive-model") if response is not None else None
        tier = _header(response, b"x-adaptive-cache") if response is not None else None
        cost = best_cost = None
        if provider and model and meter is not None:
            priced, unknown = cost_usd(usage, catalog.get(provider, model))
            if tier is not None and tier not in CACHE_MISSES:
                cost = best_cost = Decimal(0)  # answered from the gateway's cache: nothing bought upstream
            elif not unknown:
                cost = priced
                best_cost = cost_usd(usage, best)[0] if best is not None else None
        stats.observe(RequestRecord(
            request_id=getattr(request, "request_id", ""), family="", route=request.path, status=status,
            outcome="success" if status < 400 else "error", error_kind=error_kind,
            streamed=bool(meter and meter.streaming), key_id=meter.key.id if meter and meter.key else None,
            selection_source=_header(response, b"x-adaptive-selection") if response is not None else None,
            provider=provider, model=model, total_ms=(time.perf_counter() - started) * 1000,
            input_tokens=usage.input_tokens, cached_tokens=usage.cache_read_tokens,
            output_tokens=usage.output_tokens, cost_usd=cost, best_cost_usd=best_cost, cache_tier=tier,
            notes=(NO_UPSTREAM_TIMING,)))

    async def middleware(request: Request, handler: Handler) -> Response:
        if not is_metered(request.path):
            return await handler(request)
        started = time.perf_counter()
        try:
            response = await handler(request)
        except Exception as exc:
            kind = describe(exc)[0]
            observe(request, started, STATUS[kind], None, kind)
            raise
        observe(request, started, response.status, response, None)
        return response

    return middleware
