"""Outbound calls to Anthropic (or an Anthropic-compatible server).

The official SDK prepares the client: base URL, auth (anthropic 2.x sends the key as
`Authorization: Bearer`), `anthropic-version` and its standard headers. Requests go out through
the shared pool (adapters/providers/direct.py explains why); bodies are read once with orjson.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2

from adapters.providers.direct import DirectSender, same_family_headers, sdk_headers
from adapters.providers.sse import end_of_stream, json_chunks
from adapters.redaction import redact_error
from adapters.wire.anthropic import CODEC
from adapters.wire.anthropic.upstream import translated_body
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.errors import UpstreamError

_COUNT_FIELDS = ("messages", "system", "tools", "tool_choice", "thinking")


class AnthropicProvider:
    kind = "anthropic"

    def __init__(self, name: str, *, base_url: str, api_key: str, timeout_s: float,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self._owns_http = http_client is None
        self._http = http_client or httpx2.AsyncClient()
        sdk = anthropic.AsyncAnthropic(api_key=api_key or "not-needed", base_url=base_url, max_retries=0,
                                       default_headers=headers or None, http_client=self._http)
        self._send = DirectSender(self._http, str(sdk.base_url), sdk_headers(sdk, keyless=not api_key),
                                  timeout_s, name)

    async def _post_json(self, path: str, body: dict[str, Any], request: ChatRequest) -> dict[str, Any]:
        return await self._send.post_json(path, body, same_family_headers(request, self.kind))

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        body = CODEC.build_upstream(request, model, stream=False)
        return CODEC.parse_upstream(await self._post_json("/v1/messages", body, request))

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        body = CODEC.build_upstream(request, model, stream=True)
        parser = CODEC.stream_parser(self.name)
        response = await self._send.post("/v1/messages", body, stream=True,
                                         extra_headers=same_family_headers(request, self.kind))
        async with contextlib.aclosing(json_chunks(response, self.name)) as chunks:
            try:
                async for chunk in chunks:
                    for event in parser.feed(chunk):
                        yield event
                    if parser.stopped:
                        break
            except UpstreamError as exc:  # an `error` event quotes the upstream's text
                redact_error(exc, self._send.secrets)
                raise
        yield end_of_stream(parser, self.name)

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        if request.raw_family == "anthropic" and request.raw is not None:
            body = {k: v for k, v in request.raw.items() if k in _COUNT_FIELDS}
        else:
            body = translated_body(request, for_count=True)
        body["model"] = model
        payload = await self._post_json("/v1/messages/count_tokens", body, request)
        return int(payload.get("input_tokens") or 0)

    async def aclose(self) -> None:
        if self._owns_http:  # a shared pool is closed once, by whoever created it
            await self._http.aclose()
