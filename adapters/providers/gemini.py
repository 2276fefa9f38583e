"""Outbound calls to Gemini (or a Gemini-compatible server), with the headers google-genai sends.

The body is built as camelCase JSON by adapters.wire.gemini.upstream and sent through the shared
`httpx2` pool (`DirectSender`, as the OpenAI and Anthropic providers do); the reply is read with
orjson (and, streaming, with the project's incremental SSE reader). No private member of the SDK
is used: the gateway owns the request — URL `{base}/{version}/models/{model}:{method}`, the
`x-goog-api-key` header, `user-agent` / `x-goog-api-client` naming the installed google-genai
release, `x-server-timeout` — and `tests/adapters/test_gemini_headers.py` pins these against what
the SDK's public `client.aio.models.generate_content` sends, so an SDK release that changes
them fails a test instead of drifting silently. No SDK retries: the gateway owns retries.
"""

from __future__ import annotations

import contextlib
import functools
import math
import platform
from collections.abc import AsyncIterator
from typing import Any

import httpx2

from adapters.providers.direct import DirectSender, same_family_headers
from adapters.providers.sse import end_of_stream, json_chunks
from adapters.redaction import redact_error
from adapters.wire import embeddings
from adapters.wire.gemini import CODEC
from adapters.wire.gemini.upstream import count_body
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.embeddings import EmbeddingRequest, Embeddings
from domain.errors import UpstreamError

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
DEFAULT_API_VERSION = "v1beta"
_VERSIONS = ("v1", "v1beta", "v1alpha")


def split_base_url(base_url: str) -> tuple[str, str]:
    """`https://host/v1beta` -> (`https://host`, `v1beta`); without a version, the default one."""
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    head, _, last = base.rpartition("/")
    if last in _VERSIONS and "//" in head + "/":
        return head, last
    return base, DEFAULT_API_VERSION


def model_path(model: str) -> str:
    return model if model.startswith(("models/", "tunedModels/")) else f"models/{model}"


@functools.cache
def client_label() -> str:
    """`google-genai-sdk/<version> gl-python/<python>`, the SDK's own user-agent and api-client tag."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        sdk = version("google-genai")
    except PackageNotFoundError:  # pragma: no cover - the SDK is a pinned dependency
        sdk = "unknown"
    return f"google-genai-sdk/{sdk} gl-python/{platform.python_version()}"


def gemini_headers(api_key: str, timeout_s: float, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The headers google-genai sends on a generateContent call (without its per-call ones)."""
    headers = {"content-type": "application/json", "user-agent": client_label(),
               "x-goog-api-client": client_label(), "x-server-timeout": str(max(1, math.ceil(timeout_s)))}
    if api_key:  # a keyless local server gets no dummy key
        headers["x-goog-api-key"] = api_key
    headers.update(extra or {})
    return headers


class GeminiProvider:
    kind = "gemini"

    def __init__(self, name: str, *, base_url: str, api_key: str, timeout_s: float,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self._owns_http = http_client is None
        self._http = http_client or httpx2.AsyncClient()
        base, version = split_base_url(base_url)
        self._send = DirectSender(self._http, f"{base}/{version}", gemini_headers(api_key, timeout_s, headers),
                                  timeout_s, name)
        self._secrets = self._send.secrets  # redacted from whatever the upstream echoes back

    async def _post_json(self, path: str, body: dict[str, Any], request: ChatRequest) -> dict[str, Any]:
        return await self._send.post_json("/" + path, body, same_family_headers(request, self.kind))

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        body = CODEC.build_upstream(request, model, stream=False)
        return CODEC.parse_upstream(await self._post_json(f"{model_path(model)}:generateContent", body, request))

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        body = CODEC.build_upstream(request, model, stream=True)
        parser = CODEC.stream_parser(self.name)
        sent = await self._send.post(f"/{model_path(model)}:streamGenerateContent?alt=sse", body, stream=True,
                                     extra_headers=same_family_headers(request, self.kind))
        async with contextlib.aclosing(json_chunks(sent, self.name)) as chunks:
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
        payload = await self._send.post_json(f"/{model_path(model)}:batchEmbedContents", body)
        return embeddings.parse_gemini(payload, request, self.name)

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        payload = await self._post_json(f"{model_path(model)}:countTokens", count_body(request, model), request)
        return int(payload.get("totalTokens") or 0)

    async def aclose(self) -> None:
        if self._owns_http:  # a shared pool is closed once, by whoever created it
            await self._http.aclose()
