"""The official anthropic SDK (sync and async) against the fake upstream."""

from __future__ import annotations

import anthropic
import httpx
import httpx2
import orjson
import pytest

from tests.fake_upstream.conftest import FakeServer

SEARCH_TOOL = {
    "name": "search",
    "description": "search the web",
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "limit": {"type": "integer"},
            "exact": {"type": "boolean"},
        },
        "required": ["query", "limit"],
    },
}
CLOCK_TOOL = {"name": "clock", "input_schema": {"type": "object", "properties": {"tz": {"type": "string"}}}}


def client(fake: FakeServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=fake.url, api_key="sk-ant-test", max_retries=0, timeout=10)


def user(text: str) -> list[dict[str, object]]:
    return [{"role": "user", "content": text}]


def test_text_reply_and_usage(fake: FakeServer) -> None:
    message = client(fake).messages.create(
        model="claude-test", max_tokens=100, system="you are terse", messages=user("hello claude")
    )
    assert message.model == "claude-test"
    assert message.id.startswith("msg_fake_")
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Fake reply to: hello claude"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (5, 5)
    assert (message.usage.cache_read_input_tokens, message.usage.cache_creation_input_tokens) == (0, 0)


def test_stream_event_sequence(fake: FakeServer) -> None:
    body = {"model": "m", "max_tokens": 50, "stream": True, "messages": user("one two")}
    with httpx.stream("POST", f"{fake.url}/v1/messages", json=body, timeout=5) as response:
        raw = response.read().decode()
    events = [block.split("\n")[0].removeprefix("event: ") for block in raw.strip().split("\n\n")]
    assert events == [
        "message_start",
        "content_block_start",
        "ping",
        *["content_block_delta"] * 5,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = orjson.loads(raw.split("\n\n")[0].split("data: ", 1)[1])
    assert start["message"]["usage"]["input_tokens"] == 2


def test_stream_text_with_sdk(fake: FakeServer) -> None:
    with client(fake).messages.stream(model="m", max_tokens=50, messages=user("streaming text")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Fake reply to: streaming text"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5


def test_tool_use_non_stream_and_stream(fake: FakeServer) -> None:
    message = client(fake).messages.create(
        model="m", max_tokens=100, messages=user("find cats"), tools=[SEARCH_TOOL, CLOCK_TOOL]
    )
    assert message.stop_reason == "tool_use"
    assert [(b.type, b.id, b.name, b.input) for b in message.content] == [
        ("tool_use", "toolu_1", "search", {"query": "example", "limit": 1})
    ]
    with client(fake).messages.stream(
        model="m",
        max_tokens=100,
        messages=user("both [[fake:tools=parallel]]"),
        tools=[SEARCH_TOOL, CLOCK_TOOL],
    ) as stream:
        partials = [e for e in stream if e.type == "content_block_delta" and e.delta.type == "input_json_delta"]
        final = stream.get_final_message()
    assert len(partials) >= 4
    assert [(b.id, b.name, b.input) for b in final.content] == [
        ("toolu_1", "search", {"query": "example", "limit": 1}),
        ("toolu_2", "clock", {"tz": "example"}),
    ]
    assert final.stop_reason == "tool_use"


def test_forced_tool_and_tool_result(fake: FakeServer) -> None:
    forced = client(fake).messages.create(
        model="m",
        max_tokens=100,
        messages=user("time"),
        tools=[SEARCH_TOOL, CLOCK_TOOL],
        tool_choice={"type": "tool", "name": "clock"},
    )
    assert forced.content[0].name == "clock"
    conversation = [
        {"role": "user", "content": "find cats"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": [{"type": "text", "text": "3 cats"}],
                }
            ],
        },
    ]
    reply = client(fake).messages.create(model="m", max_tokens=100, messages=conversation, tools=[SEARCH_TOOL])
    assert reply.content[0].text == "Tool result received: 3 cats"
    assert reply.stop_reason == "end_turn"


def test_thinking_stream_and_usage_directives(fake: FakeServer) -> None:
    with client(fake).messages.stream(
        model="m",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=user("think [[fake:cached_tokens=4]]"),
    ) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        final = stream.get_final_message()
    assert "thinking_delta" in kinds and "signature_delta" in kinds and "text_delta" in kinds
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me think about this step by step."
    assert final.content[0].signature
    assert final.usage.cache_read_input_tokens == 4
    assert final.usage.input_tokens == 1
    assert final.usage.output_tokens == 4 + 8


def test_stop_reasons(fake: FakeServer) -> None:
    api = client(fake)
    assert api.messages.create(model="m", max_tokens=2, messages=user("a b c")).stop_reason == "max_tokens"
    stopped = api.messages.create(model="m", max_tokens=50, messages=user("alpha STOP beta"), stop_sequences=["STOP"])
    assert (stopped.stop_reason, stopped.stop_sequence) == ("stop_sequence", "STOP")
    assert stopped.content[0].text == "Fake reply to: alpha"
    refused = api.messages.create(model="m", max_tokens=50, messages=user("x [[fake:refuse]]"))
    assert (refused.stop_reason, refused.content) == ("refusal", [])


def test_count_tokens(fake: FakeServer) -> None:
    counted = client(fake).messages.count_tokens(model="m", system="sys prompt", messages=user("a b c"))
    assert counted.input_tokens == 5


def test_errors_map_to_typed_exceptions(fake: FakeServer) -> None:
    fake.control("/_fake/script", {"faults": [{"status": 429, "retry_after": 1}, {"status": 529}]})
    with pytest.raises(anthropic.RateLimitError) as caught:
        client(fake).messages.create(model="m", max_tokens=10, messages=user("x"))
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "Fake upstream error 429"},
    }
    with pytest.raises(anthropic.OverloadedError):
        client(fake).messages.create(model="m", max_tokens=10, messages=user("x"))
    with pytest.raises(anthropic.InternalServerError):
        client(fake).messages.create(model="m", max_tokens=10, messages=user("x [[fake:status=500]]"))


def test_mid_stream_cut_and_drop(fake: FakeServer) -> None:
    seen: list[str] = []
    with (
        pytest.raises((httpx2.RemoteProtocolError, anthropic.APIConnectionError)),
        client(fake).messages.stream(model="m", max_tokens=50, messages=user("a b c d [[fake:cut_after=2]]")) as s,
    ):
        for text in s.text_stream:
            seen.append(text)
    assert "".join(seen) == "Fake reply "
    with pytest.raises(anthropic.APIConnectionError):
        client(fake).messages.create(model="m", max_tokens=50, messages=user("x [[fake:drop]]"))


async def test_async_client(fake: FakeServer) -> None:
    api = anthropic.AsyncAnthropic(base_url=fake.url, api_key="k", max_retries=0, timeout=10)
    message = await api.messages.create(model="m", max_tokens=50, messages=user("async"))
    assert message.content[0].text == "Fake reply to: async"
    async with api.messages.stream(model="m", max_tokens=50, messages=user("async stream")) as stream:
        text = "".join([t async for t in stream.text_stream])
    assert text == "Fake reply to: async stream"
    with pytest.raises(anthropic.RateLimitError):
        await api.messages.create(model="m", max_tokens=50, messages=user("x [[fake:status=429]]"))
    await api.close()
