"""Control API, stats, fault timing and the format-independent reply rules."""

from __future__ import annotations

import time

import httpx
import orjson
import pytest

from devtools.fake_upstream.faults import resolve_fault
from devtools.fake_upstream.replies import Prompt, Tool, build_reply, example_args, parse_directives
from tests.fake_upstream.conftest import FakeServer

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
MESSAGES = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
GEMINI = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def post(fake: FakeServer, path: str, body: dict[str, object], **headers: str) -> httpx.Response:
    return httpx.post(f"{fake.url}{path}", json=body, headers=headers, timeout=5)


def test_health_and_unknown_route(fake: FakeServer) -> None:
    assert httpx.get(f"{fake.url}/health").status_code == 200
    missing = httpx.get(f"{fake.url}/nope")
    assert missing.status_code == 404
    assert "message" in missing.json()["error"]


def test_script_is_consumed_in_order_across_families(fake: FakeServer) -> None:
    reply = fake.control("/_fake/script", {"faults": [{"status": 500}, {"status": 429}, {"status": 503}]})
    assert reply["queued_faults"] == 3
    assert post(fake, "/v1/embeddings", {"model": "e", "input": "x"}).status_code == 200
    openai_error = post(fake, "/v1/chat/completions", CHAT)
    assert openai_error.status_code == 500
    assert openai_error.json() == {
        "error": {"message": "Fake upstream error 500", "type": "server_error", "param": None, "code": None}
    }
    anthropic_error = post(fake, "/v1/messages", MESSAGES)
    assert anthropic_error.status_code == 429
    assert anthropic_error.json()["type"] == "error"
    assert "retry-after" not in anthropic_error.headers
    gemini_error = post(fake, "/v1beta/models/g:generateContent", GEMINI)
    assert gemini_error.json() == {
        "error": {"code": 503, "message": "Fake upstream error 503", "status": "UNAVAILABLE"}
    }
    assert post(fake, "/v1/chat/completions", CHAT).status_code == 200


def test_default_fault_until_cleared(fake: FakeServer) -> None:
    fake.control("/_fake/default", {"fault": {"status": 502}})
    assert [post(fake, "/v1/chat/completions", CHAT).status_code for _ in range(3)] == [502, 502, 502]
    fake.control("/_fake/script", {"faults": [{"status": 401}]})
    assert post(fake, "/v1/chat/completions", CHAT).status_code == 401
    assert post(fake, "/v1/chat/completions", CHAT).status_code == 502
    fake.control("/_fake/default", {"fault": None})
    assert post(fake, "/v1/chat/completions", CHAT).status_code == 200


def test_stats_and_reset(fake: FakeServer) -> None:
    post(fake, "/v1/chat/completions", CHAT, authorization="Bearer sk-1", **{"X-Custom": "yes"})
    post(fake, "/v1/messages", MESSAGES, **{"x-api-key": "ant"})
    post(fake, "/v1/messages", MESSAGES, **{"x-api-key": "ant"})
    stats = fake.stats()
    assert stats["requests"] == 3
    assert stats["by_path"] == {"/v1/chat/completions": 1, "/v1/messages": 2}
    last = stats["last_request"]
    assert last["path"] == "/v1/messages"
    assert last["headers"]["x-api-key"] == "ant"
    assert "authorization" not in last["headers"]
    assert last["body"] == MESSAGES
    post(fake, "/v1/chat/completions", CHAT, authorization="Bearer sk-1", **{"X-Custom": "yes"})
    headers = fake.stats()["last_request"]["headers"]
    assert (headers["authorization"], headers["x-custom"]) == ("Bearer sk-1", "yes")
    fake.control("/_fake/script", {"faults": [{"status": 500}]})
    fake.control("/_fake/reset")
    assert fake.stats()["requests"] == 0
    assert post(fake, "/v1/chat/completions", CHAT).status_code == 200


def test_latency_and_chunk_delay(fake: FakeServer) -> None:
    fake.control("/_fake/script", {"faults": [{"latency_ms": 150}]})
    started = time.perf_counter()
    assert post(fake, "/v1/chat/completions", CHAT).status_code == 200
    assert time.perf_counter() - started >= 0.15
    body = {
        **CHAT,
        "stream": True,
        "messages": [{"role": "user", "content": "a b [[fake:chunk_delay_ms=30]]"}],
    }
    arrivals: list[float] = []
    started = time.perf_counter()
    with httpx.stream("POST", f"{fake.url}/v1/chat/completions", json=body, timeout=5) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.perf_counter() - started)
    assert len(arrivals) == 1 + 5 + 1 + 1
    assert arrivals[-1] - arrivals[0] >= 0.03 * (len(arrivals) - 1) * 0.8


def test_cut_streams_end_without_terminator(fake: FakeServer) -> None:
    body = {**CHAT, "stream": True, "messages": [{"role": "user", "content": "a b c d e"}]}
    fake.control("/_fake/script", {"faults": [{"cut_after": 50}]})
    received: list[str] = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{fake.url}/v1/chat/completions", json=body, timeout=5) as response,
    ):
        for line in response.iter_lines():
            received.append(line)
    assert received and "data: [DONE]" not in received
    assert not any('"finish_reason":"stop"' in line for line in received)


def test_gemini_stream_without_alt_sse_is_a_json_array(fake: FakeServer) -> None:
    response = post(fake, "/v1beta/models/g:streamGenerateContent", GEMINI)
    chunks = orjson.loads(response.content)
    assert [c["candidates"][0]["content"]["parts"][0]["text"] for c in chunks] == [
        "Fake ",
        "reply ",
        "to: ",
        "hi",
    ]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"


def test_model_listings(fake: FakeServer) -> None:
    assert httpx.get(f"{fake.url}/v1/models").json()["object"] == "list"
    anthropic_list = httpx.get(f"{fake.url}/v1/models", headers={"anthropic-version": "2023-06-01"}).json()
    assert anthropic_list["data"][0]["type"] == "model"
    assert httpx.get(f"{fake.url}/v1beta/models/gemini-x").json()["name"] == "models/gemini-x"


def test_example_args_from_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "n": {"type": "number"},
            "b": {"type": "boolean"},
            "a": {"type": "array", "items": {"type": "string"}},
            "o": {"type": "object"},
            "e": {"type": "string", "enum": ["x", "y"]},
            "u": {"type": ["null", "integer"]},
            "g": {"type": "STRING"},
        },
    }
    assert example_args(schema) == {
        "s": "example",
        "i": 1,
        "n": 1.5,
        "b": True,
        "a": [],
        "o": {},
        "e": "x",
        "u": 1,
        "g": "example",
    }
    assert example_args({**schema, "required": ["i"]}) == {"i": 1}
    assert example_args({}) == {}


def test_reply_rules() -> None:
    prompt = Prompt(model="m", input_words=0, user_text="  hello \n\n world [[fake:refuse]] ")
    assert parse_directives(prompt.user_text) == {"refuse": ""}
    plain = build_reply(prompt, {})
    assert (plain.text, plain.finish, plain.input_tokens, plain.output_tokens) == (
        "Fake reply to: hello world",
        "stop",
        1,
        5,
    )
    assert build_reply(prompt, parse_directives(prompt.user_text)).finish == "refusal"
    long = build_reply(Prompt(model="m", user_text="x" * 500), {})
    assert long.text == "Fake reply to: " + "x" * 200
    tools = [Tool("a", {"properties": {"q": {"type": "string"}}}), Tool("b", {})]
    assistant_last = build_reply(Prompt(model="m", user_text="hi", tools=tools, last_is_user=False), {})
    assert assistant_last.tool_calls == []
    calls = build_reply(Prompt(model="m", user_text="hi", tools=tools), {"tools": "parallel"}).tool_calls
    assert [(c.index, c.name, c.args_json) for c in calls] == [(1, "a", '{"q":"example"}'), (2, "b", "{}")]


def test_fault_merging() -> None:
    fault = resolve_fault({"status": 500, "latency_ms": 10}, {"status": "429", "retry_after": "2"})
    assert (fault.status, fault.retry_after, fault.latency_ms) == (429, "2", 10)
    assert not resolve_fault(None, {}).active
    assert resolve_fault({"drop": True}, {}).drop
