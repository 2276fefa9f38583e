"""Outbound calls to any OpenAI-compatible provider.

The official `openai` SDK configures the client (base URL, auth, its standard headers); requests
go out through the shared pool (see adapters/providers/direct.py for why). Bodies are plain JSON
(orjson) both ways; no SDK objects are built. The gateway owns retries and fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import openai
import orjson

from adapters.providers.direct import DirectSender, sdk_headers
from adapters.providers.errors import translate_openai_error
from adapters.providers.sse import sse_data
from adapters.wire.openai_chat import build_request
from adapters.wire.openai_response import StreamParser, parse_response
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.errors import UpstreamError


class OpenAIProvider:
    kind = "openai"

    def __init__(self, name: str, *, base_url: str, api_key: str, timeout_s: float,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self._owns_http = http_client is None
        self._http = http_client or httpx2.AsyncClient()
        sdk = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0,
                                 default_headers=headers or None, http_client=self._http)
        self._send = DirectSender(self._http, str(sdk.base_url), sdk_headers(sdk, keyless=not api_key),
                                  timeout_s, name)

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        return parse_response(await self._send.post_json("/chat/completions",
                                                         build_request(request, model, stream=False)))

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        response = await self._send.post("/chat/completions", build_request(request, model, stream=True),
                                         stream=True)
        parser = StreamParser()
        try:
            async for line in sse_data(response):
                if line == b"[DONE]":
                    break
                chunk = orjson.loads(line)
                if isinstance(chunk, dict) and chunk.get("error"):
                    error = chunk["error"]
                    message = str(error.get("message") if isinstance(error, dict) else error)
                    raise UpstreamError(f"provider stream error: {message}", provider=self.name)
                for event in parser.feed(chunk):
                    yield event
        except httpx2.HTTPError as exc:
            raise translate_openai_error(exc, self.name) from exc
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("provider sent an invalid stream chunk", provider=self.name) from exc
        finally:
            await response.aclose()
        if not parser.started:
            raise UpstreamError("provider stream ended before any data", provider=self.name)
        if parser.finish is None:
            raise UpstreamError("provider stream ended without a finish reason", provider=self.name)
        yield parser.end()

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        # OpenAI has no counting endpoint; a rough estimate is what clients get elsewhere too.
        return max(1, len(request.prompt_text()) // 4)

    async def aclose(self) -> None:
        if self._owns_http:  # a shared pool is closed once, by whoever created it
            await self._http.aclose()
