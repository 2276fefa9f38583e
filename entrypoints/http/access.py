"""The metering middleware: admin guard, the access gate and the usage ledger on the request path.

Installed inside `gateway_middleware` (which turns the errors raised here into the caller's
error shape) and only when something needs it: with usage recording, API keys and the admin
API all off, the request path does not pass through here at all.

- `/admin/*`: `Authorization: Bearer <auth.admin_token>`, compared in constant time.
- `/v1*` (every API family): a `RequestMeter` opens as the request enters and closes exactly
  once — here when the handler returns or raises, or at the end of a stream. The meter rides on
  the request into `ChatCall.meter`; the chat use case (`application.metered_chat.MeteredChat`)
  reports the outcome to it and closes it at the end of a stream. With `auth.api_keys` on, the
  `AccessGate` admits the request first and the principal rides into `ChatCall.principal`.
- Load shedding: while the usage writer cannot keep up (`usage.shed_above`), metered requests
  are refused with 503 `ledger_overloaded` and `Retry-After` before anything is served or recorded.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from blacksheep import Request, Response
from blacksheep.exceptions import MessageAborted

from application.access import AccessGate
from application.metering import Metering, RequestMeter
from domain.errors import AuthenticationFailed, LedgerOverloaded, status_of
from domain.errors import is_refusal as refused_input

log = logging.getLogger(__name__)
Handler = Callable[[Request], Awaitable[Response]]
Middleware = Callable[[Request, Handler], Awaitable[Response]]
METERED_PREFIXES = ("/v1/", "/v1beta/", "/v1alpha/")
METERED_PATHS = frozenset({"/v1", "/v1beta", "/v1alpha"})
METADATA_HEADER = b"x-adaptive-metadata"
MAX_METADATA_BYTES = 4096


def is_metered(path: str) -> bool:
    return path.startswith(METERED_PREFIXES) or path in METERED_PATHS


def presented_key(request: Request) -> str | None:
    """The API key from any header the OpenAI, Anthropic and Gemini SDKs send, or `?key=`."""
    auth = request.get_first_header(b"authorization")
    if auth:
        scheme, _, value = auth.decode("latin-1").strip().partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    for header in (b"x-api-key", b"x-goog-api-key"):
        value_bytes = request.get_first_header(header)
        if value_bytes and value_bytes.strip():
            return value_bytes.decode("latin-1").strip()
    keys = request.query.get("key")
    return keys[0] if keys else None


def request_metadata(request: Request) -> dict[str, Any] | None:
    """Free-form usage metadata (project, user, cluster...) from the `x-adaptive-metadata` JSON header."""
    raw = request.get_first_header(METADATA_HEADER)
    if not raw or len(raw) > MAX_METADATA_BYTES:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def admin_authorized(request: Request, token: str) -> bool:
    if not token:
        return False
    auth = request.get_first_header(b"authorization") or b""
    scheme, _, value = auth.partition(b" ")
    return scheme.lower() == b"bearer" and hmac.compare_digest(value.strip(), token.encode())


def is_refusal(exc: BaseException) -> bool:
    """Bad input the gateway refused itself, before any upstream call: not recorded."""
    if isinstance(exc, MessageAborted):  # the client left before its body arrived
        return True
    return refused_input(exc)


def access_middleware(metering: Metering | None, gate: Callable[[], AccessGate] | None,
                      admin_token: str, shed: Callable[[], bool] | None = None,
                      shed_retry_after_s: float = 1.0) -> Middleware:
    async def middleware(request: Request, handler: Handler) -> Response:
        path = request.path
        if path.startswith("/admin"):
            if not admin_authorized(request, admin_token):
                raise AuthenticationFailed("admin API: missing or wrong admin token" if admin_token
                                           else "admin API is disabled: set auth.admin_token")
            return await handler(request)
        if not is_metered(path):
            return await handler(request)
        if shed is not None and shed():
            raise LedgerOverloaded("the usage ledger cannot keep up with the load; retry shortly",
                                   retry_after=shed_retry_after_s)
        meter = None
        if metering is not None:
            meter = metering.start(path, getattr(request, "request_id", ""), request_metadata(request))
        request.meter = meter  # type: ignore[attr-defined]  # read into ChatCall.meter by the chat handler
        try:
            if gate is not None:
                principal = await gate().admit(presented_key(request), meter.identify if meter else None)
                request.principal = principal  # type: ignore[attr-defined]
            response = await handler(request)
        except asyncio.CancelledError:
            if meter is not None:
                meter.finish(499, "client disconnected", cancelled=True)
            raise
        except Exception as exc:
            if meter is not None:
                if is_refusal(exc):
                    meter.discard()
                else:
                    meter.finish(*status_of(exc))
            raise
        if meter is not None:
            _close(meter, response)
        return response

    return middleware


def _close(meter: RequestMeter, response: Response) -> None:
    if not meter.streaming:  # a stream closes its meter itself, when it ends
        meter.finish(response.status)
