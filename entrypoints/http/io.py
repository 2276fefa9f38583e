"""Reading JSON bodies and writing JSON / SSE responses, with the gateway's response headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
from blacksheep import Content, Request, Response, StreamedContent

from application.chat import ChatOutcome, StreamOutcome
from domain.errors import InvalidRequest, PayloadTooLarge

JSON = b"application/json"


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        raise InvalidRequest("request body is empty; expected a JSON object")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def json_response(payload: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(status, headers, Content(JSON, orjson.dumps(payload)))


def served_headers(outcome: ChatOutcome | StreamOutcome) -> list[tuple[bytes, bytes]]:
    """The x-adaptive-* headers for an outcome."""
    headers = [
        (b"x-adaptive-provider", outcome.target.provider.encode()),
        (b"x-adaptive-model", outcome.target.model.encode()),
        (b"x-adaptive-selection", outcome.selection.source.encode()),
    ]
    if outcome.cache_tier:
        headers.append((b"x-adaptive-cache", outcome.cache_tier.encode()))
    return headers


def cache_inputs(request: Request) -> dict[str, Any]:
    """What ChatCall needs from the HTTP request besides the body: its Cache-Control header, the
    principal the access gate admitted and the request's usage meter (both set by the access
    middleware, entrypoints/http/access.py)."""
    header = request.get_first_header(b"cache-control")
    return {"cache_control": header.decode("latin-1") if header else None,
            "principal": getattr(request, "principal", None), "meter": getattr(request, "meter", None)}


def sse_response(
    outcome: StreamOutcome,
    encode: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> Response:
    headers = [(b"x-accel-buffering", b"no"), *(extra_headers or [])]
    return stream_response(outcome, encode, on_error, b"text/event-stream", headers)


def stream_response(
    outcome: StreamOutcome,
    encode: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    content_type: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> Response:
    """Stream `outcome.events` through `encode`. A failure after the first byte cannot change the
    status any more, so it ends the stream with the family's own error frame."""

    async def body() -> AsyncIterator[bytes]:
        events = outcome.events
        try:
            async for event in events:
                frame = encode(event)
                if frame:
                    yield frame
        except Exception as exc:  # mid-stream: report in-band, never hang or drop silently
            yield on_error(exc)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    headers = [(b"cache-control", b"no-cache"), *served_headers(outcome), *(extra_headers or [])]
    return Response(200, headers, StreamedContent(content_type, body))
