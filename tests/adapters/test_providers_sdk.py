"""Provider adapters (anthropic and google-genai SDKs) against httpx2.MockTransport: URL, headers,
body shape, streaming, and SDK errors mapped to domain errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest

from adapters.providers.anthropic import AnthropicProvider
from adapters.providers.factory import SdkProviderFactory
from adapters.providers.gemini import GeminiProvider, split_base_url
from adapters.providers.openai import OpenAIProvider
from application.settings import ProviderSettings
from domain.chat import ChatRequest, Message, StreamEnd, StreamStart, TextDelta, TextPart, collect_stream
from domain.errors import UpstreamError, UpstreamRejected, UpstreamTimeout, UpstreamUnreachable

FIXTURES = Path(__file__).parent.parent / "fixtures"
Handler = Callable[[httpx2.Request], httpx2.Response]

ANTHROPIC_OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
                "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}}
GEMINI_OK = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
             "modelVersion": "gemini-x", "responseId": "r1"}
ERRORS = {
    "anthropic": lambda status: {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
    "gemini": lambda status: {"error": {"code": status, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}},
    "openai": lambda status: {"error": {"message": "slow down", "type": "rate_limit_error", "code": None}},
}


class Recorder:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        return self.handler(request)

    @property
    def body(self) -> dict[str, Any]:
        return orjson.loads(self.requests[-1].content)


def user(text: str = "hi") -> ChatRequest:
    return ChatRequest(model="client-model", messages=[Message(role="user", content=[TextPart(text=text)])])


def make(kind: str, handler: Handler, base_url: str = "", timeout_s: float = 7.5) -> tuple[Any, Recorder]:
    recorder = Recorder(handler)
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(recorder))
    cls = {"anthropic": AnthropicProvider, "gemini": GeminiProvider, "openai": OpenAIProvider}[kind]
    default = {"anthropic": "http://anth.test", "gemini": "http://gem.test", "openai": "http://oai.test/v1"}[kind]
    provider = cls("prov", base_url=base_url or default, api_key=f"{kind}-server-key", timeout_s=timeout_s,
                   headers={"x-extra": "yes"}, http_client=http)
    return provider, recorder


# --- Anthropic -------------------------------------------------------------------------------


async def test_anthropic_complete_request_shape() -> None:
    provider, upstream = make("anthropic", lambda r: httpx2.Response(200, json=ANTHROPIC_OK))
    response = await provider.complete(user(), "claude-x")
    assert response.text() == "hello" and response.usage.input_tokens == 3
    sent = upstream.requests[0]
    assert str(sent.url) == "http://anth.test/v1/messages"
    assert sent.headers["authorization"] == "Bearer anthropic-server-key"
    assert sent.headers["x-extra"] == "yes" and sent.headers["anthropic-version"]
    assert sent.headers["user-agent"].startswith("AsyncAnthropic/Python")  # the SDK prepared the headers
    assert sent.extensions["timeout"]["read"] == 7.5
    assert upstream.body == {"model": "claude-x", "max_tokens": 4096,
                             "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}


async def test_anthropic_base_url_with_a_path() -> None:
    provider, upstream = make("anthropic", lambda r: httpx2.Response(200, json=ANTHROPIC_OK),
                              base_url="http://proxy.test/anthropic/")
    await provider.complete(user(), "claude-x")
    assert str(upstream.requests[0].url) == "http://proxy.test/anthropic/v1/messages"


async def test_anthropic_stream() -> None:
    raw = (FIXTURES / "anthropic_stream_tools.sse").read_bytes()
    provider, upstream = make("anthropic", lambda r: httpx2.Response(
        200, content=raw, headers={"content-type": "text/event-stream"}))
    events = [e async for e in provider.stream(user(), "claude-x")]
    assert upstream.body["stream"] is True
    assert isinstance(events[0], StreamStart) and isinstance(events[-1], StreamEnd)
    response = collect_stream(events)
    assert response.finish_reason == "tool_calls" and len(response.tool_calls) == 2


async def test_anthropic_count_tokens() -> None:
    provider, upstream = make("anthropic", lambda r: httpx2.Response(200, json={"input_tokens": 42}))
    assert await provider.count_tokens(user(), "claude-x") == 42
    assert str(upstream.requests[0].url) == "http://anth.test/v1/messages/count_tokens"
    assert upstream.body == {"model": "claude-x",
                             "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}


# --- Gemini ----------------------------------------------------------------------------------


async def test_gemini_complete_request_shape() -> None:
    provider, upstream = make("gemini", lambda r: httpx2.Response(200, json=GEMINI_OK))
    response = await provider.complete(user(), "gemini-x")
    assert response.text() == "hello" and response.usage.total_tokens == 4
    sent = upstream.requests[0]
    assert str(sent.url) == "http://gem.test/v1beta/models/gemini-x:generateContent"
    assert sent.headers["x-goog-api-key"] == "gemini-server-key"
    assert "authorization" not in sent.headers
    assert sent.headers["x-extra"] == "yes"
    assert sent.extensions["timeout"]["read"] == 7.5
    assert upstream.body == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


@pytest.mark.parametrize(("base_url", "url"), [
    ("http://gem.test/v1", "http://gem.test/v1/models/m:generateContent"),
    ("http://gem.test/proxy/v1beta/", "http://gem.test/proxy/v1beta/models/m:generateContent"),
    ("http://gem.test/proxy", "http://gem.test/proxy/v1beta/models/m:generateContent"),
])
async def test_gemini_base_url_and_version(base_url: str, url: str) -> None:
    provider, upstream = make("gemini", lambda r: httpx2.Response(200, json=GEMINI_OK), base_url=base_url)
    await provider.complete(user(), "m")
    assert str(upstream.requests[0].url) == url


def test_split_base_url_defaults() -> None:
    assert split_base_url("") == ("https://generativelanguage.googleapis.com", "v1beta")
    assert split_base_url("https://generativelanguage.googleapis.com/v1alpha") == (
        "https://generativelanguage.googleapis.com", "v1alpha")


async def test_gemini_stream() -> None:
    raw = (FIXTURES / "gemini_stream_tools.sse").read_bytes()
    provider, upstream = make("gemini", lambda r: httpx2.Response(
        200, content=raw, headers={"content-type": "text/event-stream"}))
    events = [e async for e in provider.stream(user(), "gemini-x")]
    assert str(upstream.requests[0].url) == "http://gem.test/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
    response = collect_stream(events)
    assert response.text() == "Let me check." and [c.name for c in response.tool_calls] == ["get_weather",
                                                                                            "get_time"]
    assert response.usage.reasoning_tokens == 9


async def test_gemini_count_tokens() -> None:
    provider, upstream = make("gemini", lambda r: httpx2.Response(200, json={"totalTokens": 5}))
    assert await provider.count_tokens(user(), "gemini-x") == 5
    assert str(upstream.requests[0].url) == "http://gem.test/v1beta/models/gemini-x:countTokens"
    assert upstream.body["generateContentRequest"]["model"] == "models/gemini-x"


# --- errors (all three SDKs) -----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "openai"])
@pytest.mark.parametrize("stream", [False, True])
async def test_rate_limit_is_retryable_with_retry_after(kind: str, stream: bool) -> None:
    provider, upstream = make(kind, lambda r: httpx2.Response(429, json=ERRORS[kind](429),
                                                              headers={"retry-after": "2"}))
    with pytest.raises(UpstreamError) as caught:
        if stream:
            [e async for e in provider.stream(user(), "m")]
        else:
            await provider.complete(user(), "m")
    error = caught.value
    assert type(error) is UpstreamError and error.status == 429 and error.retryable and error.retry_after == 2
    assert error.provider == "prov" and "slow down" in error.message
    assert "server-key" not in error.message
    assert len(upstream.requests) == 1  # SDK retries are off


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "openai"])
@pytest.mark.parametrize(("status", "error_type", "retryable"), [
    (500, UpstreamError, True), (503, UpstreamError, True), (400, UpstreamRejected, False),
    (401, UpstreamRejected, False), (404, UpstreamRejected, False)])
async def test_status_errors(kind: str, status: int, error_type: type, retryable: bool) -> None:
    provider, upstream = make(kind, lambda r: httpx2.Response(status, json=ERRORS[kind](status)))
    with pytest.raises(UpstreamError) as caught:
        await provider.complete(user(), "m")
    assert type(caught.value) is error_type and caught.value.status == status
    assert caught.value.retryable is retryable
    assert len(upstream.requests) == 1


@pytest.mark.parametrize("kind", ["anthropic", "gemini", "openai"])
@pytest.mark.parametrize(("exc", "error_type"), [(httpx2.ReadTimeout("slow"), UpstreamTimeout),
                                                 (httpx2.ConnectError("refused"), UpstreamUnreachable)])
async def test_transport_errors(kind: str, exc: Exception, error_type: type) -> None:
    def fail(request: httpx2.Request) -> httpx2.Response:
        raise exc

    provider, upstream = make(kind, fail)
    with pytest.raises(error_type):
        await provider.complete(user(), "m")
    with pytest.raises(error_type):
        [e async for e in provider.stream(user(), "m")]
    assert len(upstream.requests) == 2


def _cut_stream(first: bytes) -> Handler:
    async def body() -> AsyncIterator[bytes]:
        yield first
        raise httpx2.ReadError("connection reset")

    return lambda r: httpx2.Response(200, content=body(), headers={"content-type": "text/event-stream"})


@pytest.mark.parametrize(("kind", "first"), [
    ("anthropic", b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c",'
                  b'"usage":{"input_tokens":1,"output_tokens":0}}}\n\nevent: content_block_start\ndata: '
                  b'{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
                  b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                  b'"delta":{"type":"text_delta","text":"Hel"}}\n\n'),
    ("gemini", b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}\r\n\r\n'),
])
async def test_mid_stream_cut_is_an_upstream_error_after_the_first_events(kind: str, first: bytes) -> None:
    provider, _ = make(kind, _cut_stream(first))
    received = []
    with pytest.raises(UpstreamUnreachable):
        async for event in provider.stream(user(), "m"):
            received.append(event)
    assert isinstance(received[0], StreamStart) and TextDelta(text="Hel") in received


@pytest.mark.parametrize(("kind", "raw"), [
    ("anthropic", b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c"}}\n\n'),
    ("gemini", b'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}\r\n\r\n'),
])
async def test_stream_that_ends_early_is_an_error(kind: str, raw: bytes) -> None:
    provider, _ = make(kind, lambda r: httpx2.Response(200, content=raw))
    with pytest.raises(UpstreamError, match="without"):
        [e async for e in provider.stream(user(), "m")]


async def test_gemini_error_chunk_mid_stream() -> None:
    raw = (b'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}\r\n\r\n'
           b'data: {"error":{"code":503,"message":"overloaded","status":"UNAVAILABLE"}}\r\n\r\n')
    provider, _ = make("gemini", lambda r: httpx2.Response(200, content=raw))
    with pytest.raises(UpstreamError) as caught:
        [e async for e in provider.stream(user(), "m")]
    assert caught.value.status == 503 and caught.value.provider == "prov"


# --- factory and pooling ---------------------------------------------------------------------


async def test_factory_builds_every_kind_on_the_shared_pool() -> None:
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(lambda r: httpx2.Response(200, json=GEMINI_OK)))
    factory = SdkProviderFactory(http)
    for kind, cls in [("openai", OpenAIProvider), ("anthropic", AnthropicProvider), ("gemini", GeminiProvider)]:
        provider = factory.create(f"p_{kind}", ProviderSettings(kind=kind, api_key="k", base_url="http://x.test"))
        assert isinstance(provider, cls) and provider.kind == kind
        await provider.aclose()
    assert not http.is_closed  # the shared pool is closed once, by the container
    gemini = factory.create("g", ProviderSettings(kind="gemini", api_key="k", base_url="http://x.test"))
    assert gemini._http is http
