"""Reading JSON bodies and writing JSON / SSE responses, with the gateway's response headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import orjson
from blacksheep import Content, Request, Response, StreamedContent

from application.chat import ChatOutcome, StreamOutcome
from application.observation import Exchange
from domain.errors import InvalidRequest, PayloadTooLarge, ServiceUnavailable

JSON = b"application/json"


# Bounds on what one body may hold, whatever its size in bytes (orjson itself refuses nesting
# deeper than 1024 levels): conversation turns, and the parts and tools of a request.
MAX_ITEMS = {"messages": 10_000, "contents": 10_000, "input": 10_000, "tools": 1_000, "models": 1_000}
MAX_PARTS = 1_000


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The body, never more than `max_bytes` of it in memory: a declared Content-Length over the
    limit is refused before reading; a chunked upload (no Content-Length) is read chunk by chunk
    and abandoned as soon as it passes the limit."""
    length = request.get_first_header(b"content-length")
    declared = int(length) if length is not None and length.isdigit() else None
    if declared is not None or not hasattr(request.content, "receive"):  # sized, or already in memory (test client)
        if declared is not None and declared > max_bytes:
            raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
        raw = await request.read() or b""  # the server reads no further than the declared length
        if len(raw) > max_bytes:
            raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
        return raw
    received = bytearray()
    async for chunk in request.stream():  # type: ignore[attr-defined]  # an async generator; the stub says otherwise
        if chunk:
            received.extend(chunk)
            if len(received) > max_bytes:
                raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    return bytes(received)


def check_bounds(body: dict[str, Any]) -> None:
    for key, limit in MAX_ITEMS.items():
        items = body.get(key)
        if isinstance(items, list) and len(items) > limit:
            raise InvalidRequest(f"{key} holds {len(items)} items; at most {limit} are accepted", param=key)
        for i, item in enumerate(items if isinstance(items, list) else ()):
            parts = (item.get("content") or item.get("parts")) if isinstance(item, dict) else None
            if isinstance(parts, list) and len(parts) > MAX_PARTS:
                raise InvalidRequest(f"{key}[{i}] holds {len(parts)} parts; at most {MAX_PARTS} are accepted",
                                     param=f"{key}[{i}]")


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    raw = await read_body(request, max_bytes)
    if not raw:
        raise InvalidRequest("request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    check_bounds(body)
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
    middleware, entrypoints/http/access.py), and where its RequestRecord goes (the request's
    Exchange, set by the gateway middleware)."""
    header = request.get_first_header(b"cache-control")
    exchange: Exchange | None = getattr(request, "exchange", None)
    return {"cache_control": header.decode("latin-1") if header else None,
            "principal": getattr(request, "principal", None), "meter": getattr(request, "meter", None),
            "report": exchange.chat_report() if exchange is not None else None}


def timing_headers(request: Request, outcome: ChatOutcome | StreamOutcome) -> list[tuple[bytes, bytes]]:
    """`x-adaptive-cost-usd`, `x-adaptive-overhead-ms` and `Server-Timing` (gateway, upstream).

    A finished answer: its cost and the time so far, all known. A stream: the headers leave
    before the answer, so they tell the time until its first event and carry no cost (the access
    log and the metrics have the whole stream's)."""
    exchange: Exchange | None = getattr(request, "exchange", None)
    if exchange is None:
        return []
    total_ms = exchange.elapsed_ms()
    record = exchange.record
    upstream_ms = record.upstream_ms if record is not None else outcome.upstream_s * 1000
    overhead_ms = max(0.0, total_ms - upstream_ms)
    headers = [(b"x-adaptive-overhead-ms", f"{overhead_ms:.2f}".encode()),
               (b"server-timing", f"gateway;dur={overhead_ms:.2f};desc=\"gateway overhead\", "
                                  f"upstream;dur={upstream_ms:.2f}".encode())]
    if record is not None and record.cost_usd is not None and isinstance(outcome, ChatOutcome):
        headers.append((b"x-adaptive-cost-usd", format_usd(record.cost_usd).encode()))
    return headers


def format_usd(amount: Decimal) -> str:
    """A cost as plain decimal digits (no exponent), at most 10 places."""
    text = format(amount.quantize(Decimal("1e-10")).normalize(), "f")
    return text if text != "-0" else "0"


def sse_response(
    outcome: StreamOutcome,
    encode: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    request: Request | None = None,
) -> Response:
    headers = [(b"x-accel-buffering", b"no"), *(extra_headers or [])]
    return stream_response(outcome, encode, on_error, b"text/event-stream", headers, request)


def watch_disconnect(request: Request | None, task: asyncio.Task[Any]) -> asyncio.Task[None] | None:
    """Cancel `task` when the client of `request` hangs up (ASGI `http.disconnect`, which the
    server delivers once the body has been read and the connection closes). None when the request
    is not bound to an ASGI connection (the test client)."""
    receive = getattr(getattr(request, "content", None), "receive", None)
    if receive is None:
        return None

    async def watch() -> None:
        while True:
            message = await receive()
            if message.get("type") == "http.disconnect":
                task.cancel(DISCONNECTED)
                return

    return asyncio.ensure_future(watch())


DISCONNECTED = "client disconnected"
SHUTTING_DOWN = "the gateway is shutting down and could not finish this request in time; retry"


def is_shutdown_cancel(exc: BaseException) -> bool:
    """uvicorn cancels the requests still running when `shutdown_timeout_s` has passed."""
    return isinstance(exc, asyncio.CancelledError) and any(
        isinstance(arg, str) and "graceful shutdown" in arg for arg in exc.args)


def stream_response(
    outcome: StreamOutcome,
    encode: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    content_type: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
    request: Request | None = None,
) -> Response:
    """Stream `outcome.events` through `encode`. A failure after the first byte cannot change the
    status any more, so it ends the stream with the family's own error frame. A client that hangs
    up cancels the upstream call at once (the meter records the request as cancelled)."""

    async def body() -> AsyncIterator[bytes]:
        events = outcome.events
        task = asyncio.current_task()
        watcher = watch_disconnect(request, task) if task is not None else None
        try:
            async for event in events:
                frame = encode(event)
                if frame:
                    yield frame
        except asyncio.CancelledError as exc:
            if task is None or not (DISCONNECTED in exc.args or is_shutdown_cancel(exc)):
                raise
            task.uncancel()
            if is_shutdown_cancel(exc):  # the drain deadline passed: end with the family's error event
                yield on_error(ServiceUnavailable(SHUTTING_DOWN))
            # else the client is gone: end quietly, nobody is left to write to
        except Exception as exc:  # mid-stream: report in-band, never hang or drop silently
            yield on_error(exc)
        finally:
            if watcher is not None:
                watcher.cancel()
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    headers = [(b"cache-control", b"no-cache"), *served_headers(outcome), *(extra_headers or [])]
    return Response(200, headers, StreamedContent(content_type, body))
