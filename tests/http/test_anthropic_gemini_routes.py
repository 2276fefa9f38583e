"""Anthropic and Gemini routes through the real app (BlackSheep TestClient), upstreams mocked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from blacksheep.contents import Content, JSONContent

FIXTURES = Path(__file__).parent.parent / "fixtures"
CLIENT_KEY = "client-secret"
CONFIG = {
    "providers": {
        "up_openai": {"kind": "openai", "base_url": "http://oai.test/v1", "api_key": "sk-oai-server",
                      "models": {"m1": {}}},
        "up_anthropic": {"kind": "anthropic", "base_url": "http://anth.test", "api_key": "sk-anth-server",
                         "headers": {"x-extra": "yes"}, "models": {"claude-x": {}}},
        "up_gemini": {"kind": "gemini", "base_url": "http://gem.test", "api_key": "gem-server",
                      "models": {"gemini-x": {}}},
    },
}
OPENAI_OK = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m1",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4,
                       "prompt_tokens_details": {"cached_tokens": 2}}}
ANTHROPIC_OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_sequence": None,
                "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}, "container": None}
GEMINI_OK = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
             "modelVersion": "gemini-x", "responseId": "r1"}
SSE = {"content-type": "text/event-stream"}


class Upstream:
    """Answers by host, records every request."""

    def __init__(self, **by_host: Callable[[httpx2.Request], httpx2.Response] | httpx2.Response) -> None:
        self.by_host = by_host
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        answer = self.by_host.get(request.url.host.split(".")[0])
        if answer is None:
            raise AssertionError(f"unexpected upstream call {request.url}")
        return answer(request) if callable(answer) else answer

    @property
    def last(self) -> httpx2.Request:
        return self.requests[-1]

    @property
    def body(self) -> dict[str, Any]:
        return orjson.loads(self.last.content)


def ok() -> Upstream:
    return Upstream(oai=lambda r: httpx2.Response(200, json=OPENAI_OK),
                    anth=lambda r: httpx2.Response(200, json=ANTHROPIC_OK),
                    gem=lambda r: httpx2.Response(200, json=GEMINI_OK))


def messages_body(model: str = "up_anthropic:claude-x", **extra: Any) -> JSONContent:
    return JSONContent({"model": model, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}], **extra})


def gemini_body(**extra: Any) -> JSONContent:
    return JSONContent({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **extra})


def assert_no_client_key(request: httpx2.Request) -> None:
    assert CLIENT_KEY not in str(request.headers) and CLIENT_KEY not in str(request.url)


# --- Anthropic -------------------------------------------------------------------------------


async def test_messages_same_family_passthrough(gateway) -> None:
    upstream = ok()
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/messages", content=messages_body(service_tier="auto"),
                                 headers={"x-api-key": CLIENT_KEY, "authorization": f"Bearer {CLIENT_KEY}",
                                          "anthropic-version": "2023-06-01"})
    assert response.status == 200
    assert await response.json() == {**ANTHROPIC_OK, "provider": "up_anthropic"}  # the upstream body, named
    assert response.headers.get_first(b"x-adaptive-provider") == b"up_anthropic"
    assert response.headers.get_first(b"x-adaptive-model") == b"claude-x"
    assert response.headers.get_first(b"x-adaptive-selection") == b"manual_override"
    sent = upstream.last
    assert str(sent.url) == "http://anth.test/v1/messages"
    assert sent.headers["authorization"] == "Bearer sk-anth-server" and sent.headers["x-extra"] == "yes"
    assert "x-api-key" not in sent.headers
    assert_no_client_key(sent)
    assert upstream.body == {"model": "claude-x", "max_tokens": 64, "service_tier": "auto",
                             "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("model", "host"), [("up_openai:m1", "oai"), ("up_gemini:gemini-x", "gem")])
async def test_messages_translated_to_other_providers(gateway, model: str, host: str) -> None:
    upstream = ok()
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/messages", content=messages_body(model, system="Be brief."),
                                 headers={"x-api-key": CLIENT_KEY})
    assert response.status == 200
    body = await response.json()
    assert body["type"] == "message" and body["role"] == "assistant"
    assert body["content"] == [{"type": "text", "text": "hello"}] and body["stop_reason"] == "end_turn"
    assert body["usage"]["input_tokens"] + body["usage"]["cache_read_input_tokens"] == 3
    assert upstream.last.url.host.startswith(host)
    assert_no_client_key(upstream.last)


async def test_messages_stream_translated_from_openai(gateway) -> None:
    raw = (FIXTURES / "openai_stream_tools.sse").read_bytes()
    upstream = Upstream(oai=lambda r: httpx2.Response(200, content=raw, headers=SSE))
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/messages", content=messages_body("up_openai:m1", stream=True))
    assert response.status == 200
    assert response.headers.get_first(b"content-type").startswith(b"text/event-stream")
    assert response.headers.get_first(b"x-adaptive-provider") == b"up_openai"
    text = await response.text()
    assert "[DONE]" not in text
    names = [line[7:] for line in text.splitlines() if line.startswith("event: ")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_start") == 2  # two tool_use blocks
    assert '"stop_reason":"tool_use"' in text and '"cache_read_input_tokens":400' in text


async def test_messages_mid_stream_failure_is_an_error_event(gateway) -> None:
    async def cut() -> Any:
        yield (b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m1","choices":[{"index":0,'
               b'"delta":{"content":"Hel"},"finish_reason":null}]}\n\n')
        raise httpx2.ReadError("connection reset")

    client = await gateway(CONFIG, Upstream(oai=lambda r: httpx2.Response(200, content=cut(), headers=SSE)))
    response = await client.post("/v1/messages", content=messages_body("up_openai:m1", stream=True))
    text = await response.text()
    assert '"text":"Hel"' in text
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: error\ndata: ")
    assert orjson.loads(last.split("data: ", 1)[1])["type"] == "error"


@pytest.mark.parametrize(("body", "status", "error_type"), [
    ({"model": "up_anthropic:claude-x", "messages": []}, 400, "invalid_request_error"),
    ({"model": "nope:x", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}, 400,
     "invalid_request_error"),
])
async def test_messages_errors_in_anthropic_shape(gateway, body: dict, status: int, error_type: str) -> None:
    client = await gateway(CONFIG, ok())
    response = await client.post("/v1/messages", content=JSONContent(body))
    assert response.status == status
    error = await response.json()
    assert error["type"] == "error" and error["error"]["type"] == error_type


async def test_messages_malformed_json_in_anthropic_shape(gateway) -> None:
    client = await gateway(CONFIG, ok())
    response = await client.post("/v1/messages", content=Content(b"application/json", b"{nope"))
    assert response.status == 400
    assert (await response.json())["error"]["type"] == "invalid_request_error"


async def test_messages_upstream_rejection_keeps_its_status(gateway) -> None:
    upstream = Upstream(anth=lambda r: httpx2.Response(
        400, json={"type": "error", "error": {"type": "invalid_request_error", "message": "bad tool"}}))
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/messages", content=messages_body())
    assert response.status == 400
    assert "bad tool" in (await response.json())["error"]["message"]


async def test_count_tokens(gateway) -> None:
    upstream = Upstream(anth=lambda r: httpx2.Response(200, json={"input_tokens": 11}))
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/messages/count_tokens", content=JSONContent(
        {"model": "up_anthropic:claude-x", "messages": [{"role": "user", "content": "hi"}]}))
    assert response.status == 200 and await response.json() == {"input_tokens": 11}
    assert str(upstream.last.url) == "http://anth.test/v1/messages/count_tokens"
    assert upstream.body == {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]}
    estimated = await client.post("/v1/messages/count_tokens", content=JSONContent(
        {"model": "up_openai:m1", "messages": [{"role": "user", "content": "a longer prompt to count"}]}))
    assert (await estimated.json())["input_tokens"] > 0


# --- Gemini ----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1beta", "v1", "v1alpha"])
async def test_generate_content_same_family_passthrough(gateway, version: str) -> None:
    upstream = ok()
    client = await gateway(CONFIG, upstream)
    response = await client.post(f"/{version}/models/up_gemini:gemini-x:generateContent?key={CLIENT_KEY}",
                                 content=gemini_body(cachedContent="cachedContents/1"),
                                 headers={"x-goog-api-key": CLIENT_KEY})
    assert response.status == 200
    assert await response.json() == {**GEMINI_OK, "provider": "up_gemini"}
    assert response.headers.get_first(b"x-adaptive-provider") == b"up_gemini"
    sent = upstream.last
    assert str(sent.url) == "http://gem.test/v1beta/models/gemini-x:generateContent"
    assert sent.headers["x-goog-api-key"] == "gem-server"
    assert_no_client_key(sent)
    assert upstream.body == {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
                             "cachedContent": "cachedContents/1"}


@pytest.mark.parametrize(("model", "host"), [("up_openai:m1", "oai"), ("up_anthropic:claude-x", "anth")])
async def test_generate_content_translated(gateway, model: str, host: str) -> None:
    upstream = ok()
    client = await gateway(CONFIG, upstream)
    response = await client.post(f"/v1beta/models/{model}:generateContent", content=gemini_body(
        systemInstruction={"parts": [{"text": "Be brief."}]}, generationConfig={"maxOutputTokens": 20}),
        headers={"authorization": f"Bearer {CLIENT_KEY}"})
    assert response.status == 200
    body = await response.json()
    assert body["candidates"][0]["content"]["parts"] == [{"text": "hello"}]
    assert body["candidates"][0]["finishReason"] == "STOP"
    assert body["usageMetadata"]["promptTokenCount"] == 3
    assert upstream.last.url.host.startswith(host)
    assert_no_client_key(upstream.last)


async def test_stream_generate_content_sse(gateway) -> None:
    raw = (FIXTURES / "anthropic_stream_tools.sse").read_bytes()
    upstream = Upstream(anth=lambda r: httpx2.Response(200, content=raw, headers=SSE))
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1beta/models/up_anthropic:claude-x:streamGenerateContent?alt=sse",
                                 content=gemini_body())
    assert response.status == 200
    assert response.headers.get_first(b"content-type").startswith(b"text/event-stream")
    chunks = [orjson.loads(line[6:]) for line in (await response.text()).splitlines() if line.startswith("data: ")]
    parts = [p for c in chunks for p in c["candidates"][0]["content"]["parts"]]
    assert "".join(p["text"] for p in parts if p.get("thought")) == "I should look both up."
    assert [p["functionCall"]["name"] for p in parts if "functionCall" in p] == ["get_weather", "get_time"]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["cachedContentTokenCount"] == 400
    assert upstream.body["stream"] is True


async def test_stream_generate_content_without_alt_is_a_json_array(gateway) -> None:
    raw = (FIXTURES / "openai_stream_tools.sse").read_bytes()
    client = await gateway(CONFIG, Upstream(oai=lambda r: httpx2.Response(200, content=raw, headers=SSE)))
    response = await client.post("/v1/models/up_openai:m1:streamGenerateContent", content=gemini_body())
    assert response.headers.get_first(b"content-type").startswith(b"application/json")
    chunks = orjson.loads(await response.text())
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP" and len(chunks) == 2


async def test_gemini_mid_stream_failure_is_an_error_chunk(gateway) -> None:
    async def cut() -> Any:
        yield b'data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}]}\r\n\r\n'
        raise httpx2.ReadError("connection reset")

    client = await gateway(CONFIG, Upstream(gem=lambda r: httpx2.Response(200, content=cut(), headers=SSE)))
    response = await client.post("/v1beta/models/up_gemini:gemini-x:streamGenerateContent?alt=sse",
                                 content=gemini_body())
    chunks = [orjson.loads(line[6:]) for line in (await response.text()).splitlines() if line.startswith("data: ")]
    assert chunks[0]["candidates"][0]["content"]["parts"] == [{"text": "Hel"}]
    assert chunks[-1]["error"]["code"] == 502 and chunks[-1]["error"]["status"] == "UNAVAILABLE"


async def test_generate_with_model_in_body(gateway) -> None:
    raw = (FIXTURES / "openai_stream_tools.sse").read_bytes()
    upstream = Upstream(gem=lambda r: httpx2.Response(200, json=GEMINI_OK),
                        oai=lambda r: httpx2.Response(200, content=raw, headers=SSE))
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/generate", content=JSONContent(
        {"model": "up_gemini:gemini-x", "contents": [{"parts": [{"text": "hi"}]}]}))
    assert response.status == 200 and (await response.json())["responseId"] == "r1"
    assert "model" not in upstream.body
    streamed = await client.post("/v1/generate/stream", content=JSONContent(
        {"model": "up_openai:m1", "contents": [{"parts": [{"text": "hi"}]}]}))
    assert streamed.status == 200
    assert streamed.headers.get_first(b"content-type").startswith(b"text/event-stream")


async def test_count_tokens_gemini(gateway) -> None:
    upstream = Upstream(gem=lambda r: httpx2.Response(200, json={"totalTokens": 9}))
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1beta/models/up_gemini:gemini-x:countTokens", content=gemini_body())
    assert response.status == 200 and await response.json() == {"totalTokens": 9}
    assert str(upstream.last.url) == "http://gem.test/v1beta/models/gemini-x:countTokens"
    wrapped = await client.post("/v1beta/models/up_gemini:gemini-x:countTokens", content=JSONContent(
        {"generateContentRequest": {"model": "models/x", "contents": [{"parts": [{"text": "hi"}]}]}}))
    assert await wrapped.json() == {"totalTokens": 9}


@pytest.mark.parametrize(("path", "body", "status", "google_status"), [
    ("/v1beta/models/up_gemini:gemini-x:embedContent", {"contents": []}, 404, "NOT_FOUND"),
    ("/v1beta/models/up_gemini:gemini-x:generateContent", {"contents": []}, 400, "INVALID_ARGUMENT"),
    ("/v1beta/models/nope:x:generateContent", {"contents": [{"parts": [{"text": "hi"}]}]}, 400, "INVALID_ARGUMENT"),
])
async def test_gemini_errors_in_google_shape(gateway, path: str, body: dict, status: int, google_status: str) -> None:
    client = await gateway(CONFIG, ok())
    response = await client.post(path, content=JSONContent(body))
    assert response.status == status
    error = (await response.json())["error"]
    assert error["code"] == status and error["status"] == google_status and error["message"]


async def test_gemini_upstream_rate_limit(gateway) -> None:
    upstream = Upstream(gem=lambda r: httpx2.Response(
        429, json={"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}},
        headers={"retry-after": "3"}))
    client = await gateway({**CONFIG, "fallback": {"mode": "off", "max_retries": 0}}, upstream)
    response = await client.post("/v1beta/models/up_gemini:gemini-x:generateContent", content=gemini_body())
    assert response.status == 429 and response.headers.get_first(b"retry-after") == b"3"
    assert (await response.json())["error"]["status"] == "RESOURCE_EXHAUSTED"
