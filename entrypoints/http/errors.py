"""Domain errors -> each API family's error body and status, the shapes its SDK turns into typed
exceptions. Mapped once here; handlers only raise."""

from __future__ import annotations

import logging
import math
from typing import Any

import orjson
from blacksheep import Content, Request, Response

from adapters.wire.codecs import CODECS
from domain.chat import Family
from domain.errors import CircuitOpen, ErrorKind, LedgerOverloaded, RateLimited, UpstreamError, describe, status_for

log = logging.getLogger(__name__)


def family_for_path(path: str) -> Family:
    if path.startswith("/v1/messages"):
        return "anthropic"
    if path.startswith(("/v1beta", "/v1alpha", "/v1/generate")) or (
            path.startswith("/v1/models/") and ":" in path):
        return "gemini"
    return "openai"


def error_body(family: Family, kind: ErrorKind, message: str, param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    """The family's error body, built by the family's codec."""
    return CODECS[family].error_body(kind, message, param, code)


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
