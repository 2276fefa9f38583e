"""The Gemini provider owns its request (no google-genai private members); these tests pin the
URL and headers it sends against what the SDK's public API sends for the same call, so an SDK
release that changes them fails here."""

from __future__ import annotations

from typing import Any

import httpx2
import orjson
import pytest
from google import genai
from google.genai import types as genai_types

from adapters.providers.gemini import GeminiProvider
from domain.chat import ChatRequest, Message, TextPart
from domain.errors import UpstreamError

REPLY = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hi"}]}, "finishReason": "STOP"}],
         "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}}
# Per call, not per client: the body length, and what the HTTP client adds itself.
PER_CALL = {"content-length", "host", "accept", "accept-encoding", "connection"}


def _capture(seen: list[httpx2.Request], status: int = 200, body: dict[str, Any] | None = None) -> httpx2.AsyncClient:
    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(status, json=body if body is not None else REPLY)

    return httpx2.AsyncClient(transport=httpx2.MockTransport(handler))


def _headers(request: httpx2.Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k not in PER_CALL}


@pytest.mark.parametrize("base_url", ["http://gem.test", "http://gem.test/v1alpha"])
async def test_the_provider_sends_what_the_sdk_sends(base_url: str) -> None:
    sdk_seen: list[httpx2.Request] = []
    ours_seen: list[httpx2.Request] = []
    version = "v1alpha" if base_url.endswith("v1alpha") else "v1beta"
    sdk = genai.Client(api_key="gem-key", http_options=genai_types.HttpOptions(
        base_url="http://gem.test", api_version=version, timeout=30_000, headers={"x-team": "llm"},
        httpx_async_client=_capture(sdk_seen)))
    await sdk.aio.models.generate_content(model="gemini-x", contents="hi")
    ours = GeminiProvider("g", base_url=base_url, api_key="gem-key", timeout_s=30, headers={"x-team": "llm"},
                          http_client=_capture(ours_seen))
    request = ChatRequest(model="", messages=[Message(role="user", content=[TextPart("hi")])])
    assert (await ours.complete(request, "gemini-x")).text() == "hi"
    (theirs,), (mine,) = sdk_seen, ours_seen
    assert (mine.method, str(mine.url)) == (theirs.method, str(theirs.url))
    assert _headers(mine) == _headers(theirs)
    assert orjson.loads(mine.content)["contents"] == orjson.loads(theirs.content)["contents"]


async def test_streaming_uses_the_sse_method_and_a_keyless_server_gets_no_key() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, content=b"data: " + orjson.dumps(REPLY) + b"\n\n",
                               headers={"content-type": "text/event-stream"})

    ours = GeminiProvider("g", base_url="http://gem.test", api_key="", timeout_s=5,
                          http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)))
    request = ChatRequest(model="", messages=[Message(role="user", content=[TextPart("hi")])], stream=True)
    events = [event async for event in ours.stream(request, "gemini-x")]
    assert events and str(seen[0].url) == "http://gem.test/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
    assert "x-goog-api-key" not in seen[0].headers


async def test_an_error_keeps_status_and_google_status_and_never_the_key() -> None:
    seen: list[httpx2.Request] = []
    body = {"error": {"code": 429, "message": "quota exhausted for key gem-secret-key", "status": "RESOURCE_EXHAUSTED"}}
    ours = GeminiProvider("g", base_url="http://gem.test", api_key="gem-secret-key", timeout_s=5,
                          http_client=_capture(seen, 429, body))
    request = ChatRequest(model="", messages=[Message(role="user", content=[TextPart("hi")])])
    with pytest.raises(UpstreamError) as caught:
        await ours.complete(request, "gemini-x")
    assert caught.value.status == 429 and caught.value.code == "RESOURCE_EXHAUSTED"
    assert "gem-secret-key" not in caught.value.message and "quota exhausted" in caught.value.message
