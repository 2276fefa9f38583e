"""Reading server-sent events from a raw HTTP response body, incrementally."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx2
import orjson

from adapters.providers.errors import translate_transport_error
from adapters.wire.codec import StreamParsing
from domain.chat import StreamEnd
from domain.errors import UpstreamError


async def sse_data(response: httpx2.Response) -> AsyncIterator[bytes]:
    """The `data:` payload of each SSE event as it arrives (multi-line data joined by newlines)."""
    buffer = b""
    data: list[bytes] = []
    async for chunk in response.aiter_bytes():
        buffer += chunk
        while True:
            cut = buffer.find(b"\n")
            if cut < 0:
                break
            line, buffer = buffer[:cut].rstrip(b"\r"), buffer[cut + 1:]
            if not line:
                if data:
                    yield b"\n".join(data)
                    data = []
            elif line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
    if data:
        yield b"\n".join(data)


async def json_chunks(response: httpx2.Response, provider: str) -> AsyncGenerator[dict[str, Any], None]:
    """Each SSE event's JSON object, until the body ends or `[DONE]`. Transport failures and
    undecodable events become UpstreamErrors; the response is closed however iteration ends."""
    try:
        async for data in sse_data(response):
            if data == b"[DONE]":
                return
            chunk = orjson.loads(data)
            if isinstance(chunk, dict):
                yield chunk
    except httpx2.HTTPError as exc:
        raise translate_transport_error(exc, provider) from exc
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("provider sent an invalid stream event", provider=provider) from exc
    finally:
        await response.aclose()


def end_of_stream(parser: StreamParsing, provider: str) -> StreamEnd:
    """The final event of a stream that ended properly; a stream that stopped short is an error."""
    if not parser.started:
        raise UpstreamError("provider stream ended before any data", provider=provider)
    if parser.finish is None:
        raise UpstreamError("provider stream ended without a finish reason", provider=provider)
    return parser.end()
