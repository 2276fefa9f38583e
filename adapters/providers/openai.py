"""Outbound calls to any OpenAI-compatible provider.

The official `openai` SDK configures the client: base URL, authentication and its standard
headers (User-Agent, X-Stainless-*). Requests themselves go out through the shared pooled
`httpx2` client with those headers computed once: the SDK's own request pipeline measured
~590 µs of CPU per call against ~140 µs for the same request sent directly (bench notes in the
README), and the gateway's budget is ~1 ms per request. Bodies are plain JSON (orjson) both ways;
no SDK objects are built. SDK-level retries do not apply: the gateway owns retries and fallback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai
import orjson

from adapters.providers.errors import from_status, retry_after_seconds, translate_openai_error
from adapters.providers.sse import sse_data
from adapters.wire.openai_chat import build_request
from adapters.wire.openai_response import StreamParser, parse_response
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.errors import UpstreamError


def sdk_headers(client: openai.AsyncOpenAI | Any) -> dict[str, str]:
    """The headers the SDK would send (its defaults, auth and custom headers), as plain strings."""
    headers = {k: v for k, v in client.default_headers.items() if isinstance(v, str)}
    headers.update(client.auth_headers)
    return headers


def error_message(response: httpx2.Response) -> str:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.reason_phrase or "error"
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        return str(inner["message"])
    if isinstance(inner, str):
        return inner
    return response.reason_phrase or "error"


class OpenAIProvider:
    kind = "openai"

    def __init__(self, name: str, *, base_url: str, api_key: str, timeout_s: float,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self._owns_http = http_client is None
        self._http = http_client or httpx2.AsyncClient()
        sdk = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0,
                                 default_headers=headers or None, http_client=self._http)
        self._url = str(sdk.base_url).rstrip("/") + "/chat/completions"
        self._headers = sdk_headers(sdk)
        if not api_key:
            self._headers.pop("Authorization", None)  # a keyless local server gets no dummy key
        self._timeout = httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0))

    async def _post(self, body: dict[str, Any], *, stream: bool) -> httpx2.Response:
        request = self._http.build_request("POST", self._url, content=orjson.dumps(body), headers=self._headers,
                                           timeout=self._timeout)
        try:
            response = await self._http.send(request, stream=stream)
        except httpx2.HTTPError as exc:
            raise translate_openai_error(exc, self.name) from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            raise from_status(response.status_code, error_message(response), self.name,
                              retry_after_seconds(response.headers))
        return response

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        response = await self._post(build_request(request, model, stream=False), stream=False)
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("provider returned invalid JSON", provider=self.name) from exc
        if not isinstance(payload, dict):
            raise UpstreamError("provider returned an unexpected body", provider=self.name)
        return parse_response(payload)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        response = await self._post(build_request(request, model, stream=True), stream=True)
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
