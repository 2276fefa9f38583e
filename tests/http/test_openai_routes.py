from __future__ import annotations

import httpx2
import orjson
import pytest
from blacksheep.contents import Content, JSONContent

CONFIG = {
    "providers": {
        "up": {"kind": "openai", "base_url": "http://upstream.test/v1", "api_key": "sk-server-secret",
               "headers": {"x-extra": "yes"}, "models": {"m1": {}, "m2": {}}},
        "off": {"kind": "openai", "base_url": "http://off.test/v1", "models": {"x": {}}},
    },
}
OK_BODY = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m1",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}, "system_fingerprint": "fp"}


class Recorder:
    def __init__(self, response: httpx2.Response | Exception | None = None) -> None:
        self.requests: list[httpx2.Request] = []
        self.response = response

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        if isinstance(self.response, Exception):
            raise self.response
        return self.response or httpx2.Response(200, json=OK_BODY)

    @property
    def body(self) -> dict:
        return orjson.loads(self.requests[-1].content)


def chat(**extra: object) -> JSONContent:
    return JSONContent({"model": "up:m1", "messages": [{"role": "user", "content": "hi"}], **extra})


async def test_completion_passes_through_and_names_the_provider(gateway) -> None:
    upstream = Recorder()
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/chat/completions", content=chat(logprobs=True, temperature=0.2),
                                 headers={"authorization": "Bearer client-key", "x-request-id": "req-42"})
    assert response.status == 200
    body = await response.json()
    assert body["provider"] == "up"
    assert body["system_fingerprint"] == "fp"  # unmodelled fields survive
    assert response.headers.get_first(b"x-adaptive-provider") == b"up"
    assert response.headers.get_first(b"x-adaptive-model") == b"m1"
    assert response.headers.get_first(b"x-adaptive-selection") == b"manual_override"
    assert response.headers.get_first(b"x-request-id") == b"req-42"
    sent = upstream.requests[0]
    assert str(sent.url) == "http://upstream.test/v1/chat/completions"
    assert sent.headers["authorization"] == "Bearer sk-server-secret"  # never the client's key
    assert sent.headers["x-extra"] == "yes"
    assert upstream.body["model"] == "m1"
    assert upstream.body["logprobs"] is True and upstream.body["temperature"] == 0.2
    assert "provider_configs" not in upstream.body


async def test_request_id_is_generated_when_absent(gateway) -> None:
    client = await gateway(CONFIG, Recorder())
    response = await client.post("/v1/chat/completions", content=chat())
    assert len(response.headers.get_first(b"x-request-id")) == 32


async def test_stream_with_usage_and_done(gateway) -> None:
    chunks = [
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
         "choices": [{"index": 0, "delta": {"content": "he"}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
         "choices": [{"index": 0, "delta": {"content": "llo"}, "finish_reason": None}]},
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
        {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1", "choices": [],
         "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}},
    ]
    sse = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    upstream = Recorder(httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"}))
    client = await gateway(CONFIG, upstream)

    response = await client.post("/v1/chat/completions", content=chat(stream=True))
    text = await response.text()
    assert response.status == 200
    assert upstream.body["stream_options"] == {"include_usage": True}  # always asked, for metering
    frames = [line[6:] for line in text.split("\n\n") if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    parsed = [orjson.loads(f) for f in frames[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in parsed if c["choices"]) == "hello"
    assert not any("usage" in c for c in parsed)  # the client did not ask for it

    response = await client.post("/v1/chat/completions",
                                 content=chat(stream=True, stream_options={"include_usage": True}))
    parsed = [orjson.loads(line[6:]) for line in (await response.text()).split("\n\n")
              if line.startswith("data: {")]
    assert parsed[-1]["usage"]["total_tokens"] == 5 and parsed[-1]["choices"] == []


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "up:m1"}, "messages"),
    ({"model": "up:m1", "messages": []}, "messages"),
    ({"model": "up:m1", "messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
    ({"model": "up:m1", "messages": [{"role": "user", "content": "x"}], "temperature": 7}, "temperature"),
    ({"model": "nobody:m1", "messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "up:nope", "messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "off:x", "messages": [{"role": "user", "content": "x"}]}, "model"),
])
async def test_invalid_requests_are_400_in_openai_shape(gateway, body: dict, param: str) -> None:
    upstream = Recorder()
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/chat/completions", content=JSONContent(body))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert not upstream.requests


async def test_unknown_model_names_the_choices(gateway) -> None:
    client = await gateway(CONFIG, Recorder())
    response = await client.post("/v1/chat/completions", content=chat(model="up:nope"))
    assert "up:m1, up:m2" in (await response.json())["error"]["message"]


async def test_malformed_json_is_400(gateway) -> None:
    client = await gateway(CONFIG, Recorder())
    response = await client.post("/v1/chat/completions", content=Content(b"application/json", b"{nope"))
    assert response.status == 400
    assert "not valid JSON" in (await response.json())["error"]["message"]


async def test_body_too_large_is_413(gateway) -> None:
    client = await gateway({**CONFIG, "server": {"max_body_bytes": 200}}, Recorder())
    response = await client.post("/v1/chat/completions", content=chat(pad="x" * 500))
    assert response.status == 413
    assert (await response.json())["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize(("upstream_response", "status", "retry_after"), [
    (httpx2.Response(500, text="<html>boom</html>"), 502, None),
    (httpx2.Response(503, json={"error": {"message": "overloaded"}}), 503, None),  # kept: SDKs retry on it
    (httpx2.Response(529, json={"error": {"message": "overloaded"}}), 503, None),  # OpenAI has no 529
    (httpx2.Response(429, json={"error": {"message": "slow down"}}, headers={"retry-after": "7"}), 429, b"7"),
    (httpx2.Response(400, json={"error": {"message": "bad tool schema"}}), 400, None),
    # The gateway's own key was refused: its fault, not the caller's (README, docs/translation.md).
    (httpx2.Response(401, json={"error": {"message": "invalid api key"}}), 502, None),
    (httpx2.Response(403, json={"error": {"message": "forbidden"}}), 502, None),
    (httpx2.ReadTimeout("too slow"), 504, None),
    (httpx2.ConnectError("refused"), 502, None),
])
async def test_upstream_failures_map_to_sdk_statuses(gateway, slept, upstream_response, status,
                                                     retry_after) -> None:
    client = await gateway(CONFIG, Recorder(upstream_response))
    response = await client.post("/v1/chat/completions", content=chat())
    assert response.status == status
    assert response.headers.get_first(b"retry-after") == retry_after
    if retry_after is not None:  # the provider's Retry-After is the floor of the retry wait
        assert slept and min(slept) >= float(retry_after)
    body = await response.text()
    assert "sk-server-secret" not in body
    assert "<html>" not in body
    assert set(orjson.loads(body)["error"]) == {"message", "type", "param", "code"}


async def test_override_cannot_send_server_key_elsewhere(gateway) -> None:
    upstream = Recorder()
    client = await gateway(CONFIG, upstream)
    response = await client.post("/v1/chat/completions", content=chat(
        provider_configs={"up": {"base_url": "http://attacker.test/v1"}}))
    assert response.status == 400
    assert not upstream.requests
    response = await client.post("/v1/chat/completions", content=chat(
        provider_configs={"up": {"base_url": "http://mine.test/v1", "api_key": "sk-mine"}}))
    assert response.status == 200
    assert str(upstream.requests[-1].url) == "http://mine.test/v1/chat/completions"
    assert upstream.requests[-1].headers["authorization"] == "Bearer sk-mine"


async def test_models_lists_enabled_provider_models(gateway) -> None:
    client = await gateway(CONFIG, Recorder())
    response = await client.get("/v1/models")
    body = await response.json()
    assert body["object"] == "list"
    assert [m["id"] for m in body["data"]] == ["up:m1", "up:m2"]


async def test_health_reports_components(gateway) -> None:
    client = await gateway(CONFIG, Recorder())
    response = await client.get("/health")
    body = await response.json()
    assert response.status == 200
    assert body["components"]["providers"]["up"]["status"] == "enabled"
    assert body["components"]["providers"]["off"] == {"status": "disabled", "kind": "openai",
                                                      "reason": "no api key"}


async def test_cors_from_config(gateway) -> None:
    client = await gateway({**CONFIG, "server": {"cors": {"allow_origins": ["https://app.test"]}}}, Recorder())
    response = await client.options("/v1/chat/completions", headers={
        "origin": "https://app.test", "access-control-request-method": "POST"})
    assert response.headers.get_first(b"access-control-allow-origin") == b"https://app.test"
    assert response.headers.get_first(b"access-control-allow-credentials") is None


async def test_a_keyless_provider_says_why_it_is_unavailable(gateway) -> None:
    client = await gateway(CONFIG, Recorder())
    response = await client.post("/v1/chat/completions", content=chat(model="off:x"))
    assert response.status == 400
    assert "provider 'off' is not available: no api_key is set; available providers: up" in (
        await response.json())["error"]["message"]
