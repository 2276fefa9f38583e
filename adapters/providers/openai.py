"""Outbound calls to any OpenAI-compatible provider through the official `openai` SDK.

The SDK owns the HTTP details (auth headers, base URL, timeouts, error classes); its typed
response objects stay off the hot path: requests go out as plain JSON with `cast_to` the raw
HTTP response, and the body is parsed once with orjson. SDK retries are off: the gateway owns
retries and fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
import httpx2
import openai
import orjson

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
        self._client = openai.AsyncOpenAI(
            api_key=api_key or "not-needed",
            base_url=base_url,
            timeout=timeout_s,
            max_retries=0,
            default_headers=headers or None,
            http_client=http_client,
        )

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        body = build_request(request, model, stream=False)
        try:
            response = await self._client.post("/chat/completions", body=body, cast_to=httpx2.Response)
            payload = orjson.loads(response.content)
        except openai.APIError as exc:
            raise translate_openai_error(exc, self.name) from exc
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("provider returned invalid JSON", provider=self.name) from exc
        if not isinstance(payload, dict):
            raise UpstreamError("provider returned an unexpected body", provider=self.name)
        return parse_response(payload)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        body = build_request(request, model, stream=True)
        parser = StreamParser()
        try:
            response: httpx2.Response = await self._client.post(
                "/chat/completions", body=body, cast_to=httpx2.Response, stream=True)
        except openai.APIError as exc:
            raise translate_openai_error(exc, self.name) from exc
        try:
            async for line in sse_data(response):
                if line == b"[DONE]":
                    break
                chunk = orjson.loads(line)
                if isinstance(chunk, dict) and chunk.get("error"):
                    message = str(chunk["error"].get("message") or chunk["error"])
                    raise UpstreamError(f"provider stream error: {message}", provider=self.name)
                for event in parser.feed(chunk):
                    yield event
        except (httpx2.TransportError, openai.APIError) as exc:
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
            await self._client.close()
