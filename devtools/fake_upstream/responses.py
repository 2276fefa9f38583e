"""Low-level ASGI response helpers: whole bodies, SSE streams, errors and connection cuts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from devtools.fake_upstream.faults import Fault

Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
StreamEvent = tuple[bytes, bool]

JSON = b"application/json"
SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
]


async def read_body(receive: Receive) -> bytes:
    """Read the whole request body."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body"):
        return body
    parts = [body]
    while message.get("more_body"):
        message = await receive()
        parts.append(message.get("body", b""))
    return b"".join(parts)


async def send_bytes(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes = JSON,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """Send a complete response with a content-length."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def abort(send: Send) -> None:
    """Close the connection abruptly, whatever has been sent so far.

    Under uvicorn the transport is reachable through the bound ``send``; closing
    it and marking the cycle disconnected makes uvicorn drop the request
    silently (no 500, no log).  Elsewhere fall back to raising, which ASGI
    servers turn into a connection close once a response has started.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None or not hasattr(cycle, "disconnected"):
        raise ConnectionAbortedError("fake upstream: connection cut on purpose")
    cycle.disconnected = True
    transport.close()


async def send_error(send: Send, error_body: Callable[[int, str], bytes], fault: Fault) -> None:
    """An error reply in the family's own shape, with Retry-After when configured."""
    status = fault.status or 500
    message = fault.message or f"Fake upstream error {status}"
    extra = [(b"retry-after", fault.retry_after.encode())] if fault.retry_after is not None else None
    await send_bytes(send, status, error_body(status, message), extra=extra)


async def send_stream(send: Send, events: list[StreamEvent], fault: Fault) -> None:
    """Send SSE events, honouring ``chunk_delay_ms`` and ``cut_after``."""
    await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
    cut = fault.cut_after
    if cut is not None:
        events = cut_events(events, cut)
    delay = fault.chunk_delay_ms / 1000
    if delay:
        for pos, (data, _) in enumerate(events):
            if pos:
                await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": data, "more_body": True})
    elif cut is None:
        await send({"type": "http.response.body", "body": b"".join(e[0] for e in events)})
        return
    elif events:
        await send({"type": "http.response.body", "body": b"".join(e[0] for e in events), "more_body": True})
    if cut is not None:
        await abort(send)
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def cut_events(events: list[StreamEvent], cut: int) -> list[StreamEvent]:
    """The events sent before a cut: up to ``cut`` content events, never the closing ones."""
    kept: list[StreamEvent] = []
    sent = 0
    for event in events:
        if event[1]:
            if sent >= cut:
                return kept
            sent += 1
        kept.append(event)
    while kept and not kept[-1][1]:
        kept.pop()
    return kept
