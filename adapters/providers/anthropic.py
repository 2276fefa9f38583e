"""Outbound calls to Anthropic (or an Anthropic-compatible server) through the official SDK.

As with the openai SDK: the SDK prepares the headers, requests go out through the shared pool
(adapters/providers/direct.py), bodies parsed once with orjson,
SDK retries off, the shared pooled `httpx2.AsyncClient` passed as `http_client`. The SDK owns
auth (anthropic 2.x sends the key as `Authorization: Bearer`), `anthropic-version`, the base URL
and timeouts.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import orjson

from adapters.providers.direct import DirectSender, sdk_headers
from adapters.providers.errors import from_status, retry_after_seconds
from adapters.providers.sse import sse_data
from adapters.wire.anthropic_body import build_request, translated_body
from adapters.wire.anthropic_response import parse_response
from adapters.wire.anthropic_stream import StreamParser
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.errors import UpstreamError, UpstreamTimeout, UpstreamUnreachable

_COUNT_FIELDS = ("messages", "system", "tools", "tool_choice", "thinking")


def translate_anthropic_error(exc: Exception, provider: str) -> UpstreamError:
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return UpstreamTimeout(f"{provider} timed out", provider=provider)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return UpstreamUnreachable(f"{provider} could not be reached: {type(exc).__name__}", provider=provider)
    if isinstance(exc, anthropic.APIStatusError):
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        message = (error.get("message") if isinstance(error, dict) else None) or exc.response.reason_phrase
        code = error.get("type") if isinstance(error, dict) else None
        return from_status(exc.status_code, str(message or "error"), provider,
                           retry_after_seconds(exc.response.headers), code=code)
    return UpstreamError(f"{provider} failed: {type(exc).__name__}", provider=provider)


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

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._send.post_json(path, body)

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        return parse_response(await self._post_json("/v1/messages", build_request(request, model, stream=False)))

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        body = build_request(request, model, stream=True)
        parser = StreamParser(self.name)
        response = await self._send.post("/v1/messages", body, stream=True)
        try:
            async for data in sse_data(response):
                event = orjson.loads(data)
                if isinstance(event, dict):
                    for domain_event in parser.feed(event):
                        yield domain_event
                if parser.stopped:
                    break
        except (httpx2.TransportError, anthropic.APIError) as exc:
            raise translate_anthropic_error(exc, self.name) from exc
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("provider sent an invalid stream event", provider=self.name) from exc
        finally:
            await response.aclose()
        if not parser.started:
            raise UpstreamError("provider stream ended before any data", provider=self.name)
        if parser.finish is None:
            raise UpstreamError("provider stream ended without a stop reason", provider=self.name)
        yield parser.end()

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        if request.raw_family == "anthropic" and request.raw is not None:
            body = {k: v for k, v in request.raw.items() if k in _COUNT_FIELDS}
        else:
            body = translated_body(request, for_count=True)
        body["model"] = model
        payload = await self._post_json("/v1/messages/count_tokens", body)
        return int(payload.get("input_tokens") or 0)

    async def aclose(self) -> None:
        if self._owns_http:  # a shared pool is closed once, by whoever created it
            await self._http.aclose()
