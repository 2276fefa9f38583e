"""The one middleware on the request path: request id, body limit, errors in the caller's shape."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from blacksheep import Request, Response

from domain.errors import PayloadTooLarge
from entrypoints.http.errors import error_response, family_for_path

Handler = Callable[[Request], Awaitable[Response]]


def gateway_middleware(max_body_bytes: int) -> Callable[[Request, Handler], Awaitable[Response]]:
    async def middleware(request: Request, handler: Handler) -> Response:
        raw_id = request.get_first_header(b"x-request-id")
        request_id = raw_id.decode("latin-1")[:128] if raw_id else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        try:
            length = request.get_first_header(b"content-length")
            if length is not None and length.isdigit() and int(length) > max_body_bytes:
                raise PayloadTooLarge(f"request body exceeds {max_body_bytes} bytes")
            response = await handler(request)
        except Exception as exc:  # the boundary: anything unexpected is a 500 in the caller's shape, logged
            response = error_response(family_for_path(request.path), exc, request_id)
        if b"x-request-id" not in response.headers:  # error responses already carry it: once, not twice
            response.headers.add(b"x-request-id", request_id.encode())
        return response

    return middleware
