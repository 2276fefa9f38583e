"""`GET /metrics`: the Prometheus exposition, outside API-key auth and metering.

On the gateway's port (`telemetry.metrics.port: 0`) or on a port of its own, served by a tiny
asyncio server in each worker (SO_REUSEPORT: any worker may answer, and with several workers
each answer adds up all of them). `telemetry.metrics.bearer_token` set: a scrape must send
`Authorization: Bearer <token>` (compared in constant time), else 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from blacksheep import Content, Request, Response
from blacksheep.server.routing import Router

from adapters.telemetry.prometheus import CONTENT_TYPE, PrometheusMetrics

log = logging.getLogger(__name__)


def authorized(header: bytes | None, token: str) -> bool:
    if not token:
        return True
    scheme, _, value = (header or b"").partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token.encode())


Probe = Callable[[], Awaitable[Any]]


async def probe_components(metrics: PrometheusMetrics, probes: dict[str, Probe], timeout_s: float = 2.0) -> None:
    """`adaptive_proxy_component_up`: each backing service's probe (the /health ones), run at scrape
    time; a probe that raises, or reports `degraded` (Redis while its stores use local state), is 0."""
    for name, probe in probes.items():
        try:
            async with asyncio.timeout(timeout_s):
                details = await probe()
            up = not (isinstance(details, dict) and details.get("degraded"))
        except Exception:
            up = False
        metrics.component_up.labels(name).set(1 if up else 0)


def register(router: Router, metrics: PrometheusMetrics, token: str, probes: dict[str, Probe] | None = None) -> None:
    async def scrape(request: Request) -> Response:
        if not authorized(request.get_first_header(b"authorization"), token):
            return Response(401, [(b"www-authenticate", b"Bearer")], Content(b"text/plain", b"unauthorized\n"))
        await probe_components(metrics, probes or {})
        return Response(200, None, Content(CONTENT_TYPE.encode(), metrics.exposition()))

    router.add_get("/metrics", scrape)


async def serve_separately(metrics: PrometheusMetrics, host: str, port: int, token: str,
                           probes: dict[str, Probe] | None = None) -> asyncio.Server:
    """A minimal HTTP/1.1 server answering `GET /metrics` (anything else: 404) on its own port."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
            lines = head.split(b"\r\n")
            method, path = ([*lines[0].split(b" "), b"", b""])[:2]
            auth = next((line.partition(b":")[2].strip() for line in lines[1:]
                         if line.lower().startswith(b"authorization:")), None)
            if method != b"GET" or path.split(b"?")[0] != b"/metrics":
                status, ctype, body = b"404 Not Found", b"text/plain", b"not found\n"
            elif not authorized(auth, token):
                status, ctype, body = b"401 Unauthorized", b"text/plain", b"unauthorized\n"
            else:
                await probe_components(metrics, probes or {})
                status, ctype, body = b"200 OK", CONTENT_TYPE.encode(), metrics.exposition()
            writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: " + ctype + b"\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    server = await asyncio.start_server(answer, host, port, reuse_port=True)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return server
