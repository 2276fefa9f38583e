"""Reading server-sent events from a raw HTTP response body, incrementally."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2


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
