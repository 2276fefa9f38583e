"""Outbound calls to Gemini (or a Gemini-compatible server) through the official google-genai SDK.

The SDK's typed layer (pydantic models, snake_case -> camelCase converters) stays off the hot
path: the body is built as camelCase JSON by adapters.wire.gemini_request and sent through the
SDK's lower-level API client (`BaseApiClient._build_request` / `_async_request`), which still owns
the URL, the `x-goog-api-key` header, extra headers, timeouts and error classes. The request body
is handed over pre-serialised by orjson; the reply is the raw `httpx2.Response`, read with orjson
(and, streaming, with the project's incremental SSE reader).

Pooling: `HttpOptions(httpx_async_client=...)` makes the SDK use the shared `httpx2.AsyncClient`
(and never close it). The SDK also builds a sync client and an SSL context for its Live API
websockets on every construction (~20 ms); handing it one idle sync client and one SSL context,
shared by every Gemini provider, skips both. SDK retries are off (no `retry_options`).
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from adapters.providers.errors import from_status, retry_after_seconds, translate_transport_error
from adapters.providers.sse import end_of_stream, json_chunks
from adapters.redaction import header_secrets, redact_error
from adapters.wire import embeddings
from adapters.wire.gemini_body import build_request, count_body
from adapters.wire.gemini_response import parse_response
from adapters.wire.gemini_stream import StreamParser
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.embeddings import EmbeddingRequest, Embeddings
from domain.errors import UpstreamError

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
_VERSIONS = ("v1", "v1beta", "v1alpha")


@functools.cache
def _idle_sync_client() -> httpx2.Client:
    """Never used for a request: it only stops the SDK from building a sync pool per client."""
    return httpx2.Client()


@functools.cache
def _websocket_ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def split_base_url(base_url: str) -> tuple[str, str]:
    """`https://host/v1beta` -> (`https://host`, `v1beta`); without a version, the default one."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    head, _, last = base.rpartition("/")
    if last in _VERSIONS and "//" in head + "/":
        return head, last
    return base, DEFAULT_API_VERSION


def model_path(model: str) -> str:
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


def translate_gemini_error(exc: Exception, provider: str, secrets: tuple[str, ...] = ()) -> UpstreamError:
    if isinstance(exc, httpx2.HTTPError):
        return translate_transport_error(exc, provider)
    if isinstance(exc, genai_errors.APIError):
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        return from_status(int(exc.code or 500), str(exc.message or exc.status or "error"), provider,
                           retry_after_seconds(headers if isinstance(headers, httpx2.Headers) else None),
                           code=exc.status, secrets=secrets)
    return UpstreamError(f"{provider} failed: {type(exc).__name__}", provider=provider)


class GeminiProvider:
    kind = "gemini"

    def __init__(self, name: str, *, base_url: str, api_key: str, timeout_s: float,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self._owns_http = http_client is None
        base, version = split_base_url(base_url)
        options = genai_types.HttpOptions(
            base_url=base, api_version=version, timeout=max(1, int(timeout_s * 1000)), headers=headers or None,
            httpx_async_client=http_client, httpx_client=_idle_sync_client() if http_client else None,
            async_client_args={"ssl": _websocket_ssl_context()} if http_client else None,
        )
        self._client = genai.Client(vertexai=False, api_key=api_key or "not-needed", http_options=options)
        self._api = self._client._api_client
        self._secrets = (api_key, *header_secrets(headers or {}))  # redacted from upstream errors

    async def _send(self, path: str, body: dict[str, Any], *, stream: bool) -> Any:
        request = self._api._build_request("post", path, {}, None)
        request.data = orjson.dumps(body)
        try:
            return await self._api._async_request(request, stream=stream)
        except (genai_errors.APIError, httpx2.TransportError) as exc:
            raise translate_gemini_error(exc, self.name, self._secrets) from exc

    async def _post_json(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self._send(path, body, stream=False)
        try:
            payload = orjson.loads(response.response_stream[0] if response.response_stream else b"")
        except orjson.JSONDecodeError as exc:
            raise UpstreamError("provider returned invalid JSON", provider=self.name) from exc
        if not isinstance(payload, dict):
            raise UpstreamError("provider returned an unexpected body", provider=self.name)
        return payload

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        payload = await self._post_json(f"{model_path(model)}:generateContent", build_request(request))
        return parse_response(payload)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        body = build_request(request)
        parser = StreamParser(self.name)
        sent = await self._send(f"{model_path(model)}:streamGenerateContent?alt=sse", body, stream=True)
        async with contextlib.aclosing(json_chunks(sent.response_stream, self.name)) as chunks:
            try:
                async for chunk in chunks:
                    for event in parser.feed(chunk):
                        yield event
            except UpstreamError as exc:  # an `error` event quotes the upstream's text
                redact_error(exc, self._secrets)
                raise
        yield end_of_stream(parser, self.name)

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings:
        body = embeddings.gemini_body(request, model_path(model), self.name)
        payload = await self._post_json(f"{model_path(model)}:batchEmbedContents", body)
        return embeddings.parse_gemini(payload, request, self.name)

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        payload = await self._post_json(f"{model_path(model)}:countTokens", count_body(request, model))
        return int(payload.get("totalTokens") or 0)

    async def aclose(self) -> None:
        if self._owns_http:  # a shared pool is closed once, by whoever created it
            await self._client.aio.aclose()
