"""Domain errors -> each API family's error body and status, the shapes its SDK turns into typed
exceptions. Mapped once here; handlers only raise."""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from blacksheep import Content, Request, Response

from domain.chat import Family
from domain.errors import STATUS, CircuitOpen, ErrorKind, LedgerOverloaded, RateLimited, UpstreamError, describe

log = logging.getLogger(__name__)


_OPENAI_TYPE: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "payment_required": "insufficient_quota",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "payload_too_large": "invalid_request_error",
    "rate_limited": "rate_limit_error",
}
_ANTHROPIC_TYPE: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "payment_required": "billing_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "payload_too_large": "request_too_large",
    "rate_limited": "rate_limit_error",
    "unavailable": "overloaded_error",
    "timeout": "timeout_error",
    "overloaded": "overloaded_error",
}
_GOOGLE_STATUS: dict[ErrorKind, str] = {
    "invalid_request": "INVALID_ARGUMENT",
    "authentication": "UNAUTHENTICATED",
    "payment_required": "FAILED_PRECONDITION",
    "permission": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND",
    "payload_too_large": "INVALID_ARGUMENT",
    "rate_limited": "RESOURCE_EXHAUSTED",
    "internal": "INTERNAL",
    "upstream": "UNAVAILABLE",
    "unavailable": "UNAVAILABLE",
    "timeout": "DEADLINE_EXCEEDED",
    "overloaded": "UNAVAILABLE",
}


def family_for_path(path: str) -> Family:
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith(("/v1beta", "/v1alpha", "/v1/generate")) or (
            path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    return "openai"


def status_for(family: Family, kind: ErrorKind) -> int:
    """The HTTP status of `kind` in `family`: STATUS, except that only Anthropic has 529."""
    if kind == "overloaded" and family != "anthropic":
        return STATUS["unavailable"]
    return STATUS[kind]


def error_body(family: Family, kind: ErrorKind, message: str, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    if family == "anthropic":
        return {"type": "error", "error": {"type": _ANTHROPIC_TYPE.get(kind, "api_error"), "message": message}}
    if family == "gemini":
        return {"error": {"code": status_for(family, kind), "message": message, "status": _GOOGLE_STATUS[kind]}}
    return {"error": {"message": message, "type": _OPENAI_TYPE.get(kind, "api_error"), "param": param,
                      "code": code}}


def retry_after_header(exc: BaseException) -> float | None:
    if isinstance(exc, RateLimited | CircuitOpen | LedgerOverloaded):
        return exc.retry_after
    if isinstance(exc, UpstreamError) and exc.status == 429 and exc.retry_after:
        return exc.retry_after
    return None


def error_response(family: Family, exc: BaseException, request_id: str = "") -> Response:
    kind, message, param, code = describe(exc)
    if kind == "internal":
        log.exception("internal error serving %s", request_id, exc_info=exc)
    status = status_for(family, kind)
    headers: list[tuple[bytes, bytes]] = []
    retry_after = retry_after_header(exc)
    if retry_after is not None:
        headers.append((b"retry-after", str(max(1, math.ceil(retry_after))).encode()))  # never early
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    body = orjson.dumps(error_body(family, kind, message, param, code))
    return Response(status, headers, Content(b"application/json", body))


def request_id_of(request: Request) -> str:
    return getattr(request, "request_id", "") or ""
