"""The one middleware on the request path: request id, body limit, errors in the caller's shape,
and the request's `Exchange` (one RequestRecord per request, see application/observation.py)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from blacksheep import Request, Response, StreamedContent
from blacksheep.exceptions import MessageAborted

from application.clock import SYSTEM_CLOCK
from application.observation import Exchange
from domain.errors import InvalidRequest, PayloadTooLarge, ServiceUnavailable, describe
from domain.ports import Clock
from domain.telemetry import Observers, RequestRecord
from entrypoints.http.errors import error_response, family_for_path
from entrypoints.http.io import SHUTTING_DOWN, is_shutdown_cancel

Handler = Callable[[Request], Awaitable[Response]]
log = logging.getLogger("adaptive_proxy")
API_PREFIXES = ("/v1/", "/v1beta/", "/v1alpha/")


def edge_family(path: str) -> str:
    """The API family a path belongs to for the records; "" for the gateway's own routes."""
    if not path.startswith(API_PREFIXES):
        return ""
    if path.startswith("/v1/responses"):
        return "responses"
    if path.startswith("/v1/embeddings"):
        return "embeddings"
    return family_for_path(path)


def deferred(observers: Observers) -> Callable[[RequestRecord], None]:
    """Records reach the observers on the event loop's next turn: after the response is written."""

    def dispatch(record: RequestRecord) -> None:
        try:
            asyncio.get_running_loop().call_soon(observers.observe, record)
        except RuntimeError:  # no running loop (a stream closed by the garbage collector)
            observers.observe(record)

    return dispatch


Middleware = Callable[[Request, Handler], Awaitable[Response]]


class ServerSpans(Protocol):
    """Opens each request's server span (adapters/telemetry/otel.Tracing); the record ends it."""

    def start(self, request_id: str, method: str, path: str, headers: Mapping[str, str]) -> object: ...

    def detach(self, token: object) -> None: ...


def gateway_middleware(max_body_bytes: int, observers: Observers | None = None,
                       clock: Clock = SYSTEM_CLOCK, spans: ServerSpans | None = None) -> Middleware:
    dispatch = deferred(observers if observers is not None else Observers())

    async def middleware(request: Request, handler: Handler) -> Response:
        raw_id = request.get_first_header(b"x-request-id")
        request_id = raw_id.decode("latin-1")[:128] if raw_id else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        path = request.path
        exchange = Exchange(dispatch, clock, request_id, request.method, path, edge_family(path))
        request.exchange = exchange  # type: ignore[attr-defined]  # read by io.cache_inputs and the headers
        kind: str | None = None
        token = None
        if spans is not None:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers.items()
                       if k.lower() in (b"traceparent", b"tracestate")}
            token = spans.start(request_id, request.method, path, headers)
        try:
            length = request.get_first_header(b"content-length")
            if length is not None and length.isdigit() and int(length) > max_body_bytes:
                raise PayloadTooLarge(f"request body exceeds {max_body_bytes} bytes")
            response = await handler(request)
        except asyncio.CancelledError as exc:
            task = asyncio.current_task()
            if not is_shutdown_cancel(exc) or task is None:
                exchange.close(499, None, getattr(request, "principal", None))  # the client went away
                raise
            task.uncancel()  # the drain deadline passed: answer in the caller's shape, not uvicorn's text 500
            response = error_response(family_for_path(path), ServiceUnavailable(SHUTTING_DOWN), request_id)
            response.headers.add(b"connection", b"close")
            kind = "unavailable"
        except MessageAborted:  # the client went away before its body arrived: nobody to answer
            log.warning("request %s %s: client disconnected before sending the whole body", request_id, path)
            response = error_response(family_for_path(path),
                                      InvalidRequest("request body was not received completely"), request_id)
            kind = "invalid_request"
        except Exception as exc:  # the boundary: anything unexpected is a 500 in the caller's shape, logged
            response = error_response(family_for_path(path), exc, request_id)
            kind = describe(exc)[0]
        finally:
            if token is not None and spans is not None:
                spans.detach(token)
        if b"x-request-id" not in response.headers:  # error responses already carry it: once, not twice
            response.headers.add(b"x-request-id", request_id.encode())
        exchange.close(response.status, kind, getattr(request, "principal", None),
                       streaming=isinstance(response.content, StreamedContent))
        return response

    return middleware
