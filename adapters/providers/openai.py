"""Outbound calls to any OpenAI-compatible provider.

The official `openai` SDK configures the client (base URL, auth, its standard headers); requests
go out through the shared pool (see adapters/providers/direct.py for why). Bodies are plain JSON
(orjson) both ways; no SDK objects are built. The gateway owns retries and fallback.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai

from adapters.providers.direct import DirectSender, same_family_headers, sdk_headers
from adapters.providers.sse import end_of_stream, json_chunks
from adapters.redaction import redact, redact_error
from adapters.wire import embeddings
from adapters.wire.openai import CODEC
from adapters.wire.responses import upstream as responses
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.embeddings import EmbeddingRequest, Embeddings
from domain.errors import UpstreamError


class OpenAIProvider:
    kind = "openai"

    def __init__(self, name: str, *, base_url: str, api_key: str, timeout_s: float,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None,
                 responses_api: bool = False) -> None:
        self.name = name
        self.responses_api = responses_api  # Responses API requests are passed through to `/responses`
        self._owns_http = http_client is None
        self._http = http_client or httpx2.AsyncClient()
        sdk = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0,
                                 default_headers=headers or None, http_client=self._http)
        self._send = DirectSender(self._http, str(sdk.base_url), sdk_headers(sdk, keyless=not api_key),
                                  timeout_s, name)

    def _passthrough(self, request: ChatRequest) -> bool:
        return self.responses_api and request.raw_family == "responses" and request.raw is not None

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        if self._passthrough(request) and request.raw is not None:
            body = responses.upstream_request(request.raw, model, stream=False)
            return responses.parse_response(await self._send.post_json("/responses", body), self.name)
        body = CODEC.build_upstream(request, model, stream=False)
        return CODEC.parse_upstream(await self._send.post_json("/chat/completions", body,
                                                               same_family_headers(request, self.kind)))

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        if self._passthrough(request) and request.raw is not None:
            async for event in self._relay(request.raw, model):
                yield event
            return
        response = await self._send.post("/chat/completions", CODEC.build_upstream(request, model, stream=True),
                                         stream=True, extra_headers=same_family_headers(request, self.kind))
        parser = CODEC.stream_parser(self.name)
        async with contextlib.aclosing(json_chunks(response, self.name)) as chunks:
            async for chunk in chunks:
                if chunk.get("error"):
                    error = chunk["error"]
                    message = str(error.get("message") if isinstance(error, dict) else error)
                    raise UpstreamError(redact(f"provider stream error: {message}", self._send.secrets),
                                        provider=self.name)
                for event in parser.feed(chunk):
                    yield event
        yield end_of_stream(parser, self.name)

    async def _relay(self, body: dict[str, Any], model: str) -> AsyncIterator[StreamEvent]:
        response = await self._send.post("/responses", responses.upstream_request(body, model, stream=True),
                                         stream=True)
        parser = responses.StreamParser(self.name)
        async with contextlib.aclosing(json_chunks(response, self.name)) as chunks:
            async for chunk in chunks:
                events = parser.feed(chunk)
                failed = parser.failed()
                if failed is not None and not parser.started:
                    raise redact_error(failed, self._send.secrets)  # nothing relayed yet: may fall back
                for event in events:
                    yield event
                if failed is not None:
                    raise redact_error(failed, self._send.secrets)
        yield end_of_stream(parser, self.name)

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings:
        payload = await self._send.post_json("/embeddings", embeddings.openai_body(request, model))
        return embeddings.parse_openai(payload, len(request.inputs), self.name)

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        # OpenAI has no counting endpoint; a rough estimate is what clients get elsewhere too.
        return max(1, len(request.prompt_text()) // 4)

    async def aclose(self) -> None:
        if self._owns_http:  # a shared pool is closed once, by whoever created it
            await self._http.aclose()
