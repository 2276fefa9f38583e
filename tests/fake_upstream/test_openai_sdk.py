"""The official openai SDK (sync and async) against the fake upstream."""

from __future__ import annotations

import math

import openai
import pytest

from tests.fake_upstream.conftest import FakeServer

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "unit"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {"type": "object", "properties": {"utc": {"type": "boolean"}}},
    },
}


def client(fake: FakeServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0, timeout=10)


def aclient(fake: FakeServer) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0, timeout=10)


def user(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]


def test_text_reply_and_usage(fake: FakeServer) -> None:
    reply = client(fake).chat.completions.create(model="gpt-test", messages=user("hello   big\nworld"))
    choice = reply.choices[0]
    assert choice.message.content == "Fake reply to: hello big world"
    assert choice.finish_reason == "stop"
    assert reply.model == "gpt-test"
    assert reply.id.startswith("chatcmpl-fake-")
    assert reply.usage is not None
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens, reply.usage.total_tokens) == (5, 6, 11)
    assert reply.usage.prompt_tokens_details.cached_tokens == 0
    assert reply.usage.completion_tokens_details.reasoning_tokens == 0


def test_stream_text_with_usage(fake: FakeServer) -> None:
    stream = client(fake).chat.completions.create(
        model="gpt-test",
        messages=user("stream this please"),
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake reply to: stream this please"
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) == 6
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 5 + 6


def test_stream_without_usage_has_no_usage_chunk(fake: FakeServer) -> None:
    chunks = list(client(fake).chat.completions.create(model="m", messages=user("x"), stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_tool_call_non_stream(fake: FakeServer) -> None:
    reply = client(fake).chat.completions.create(
        model="gpt-test", messages=user("weather in Paris?"), tools=[WEATHER_TOOL, TIME_TOOL]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls or []
    assert [(c.id, c.function.name) for c in calls] == [("call_1", "get_weather")]
    assert calls[0].function.arguments == '{"city":"example","unit":"celsius"}'
    assert reply.usage is not None and reply.usage.completion_tokens == len(calls[0].function.arguments) // 4


def test_tool_call_stream_fragments_and_parallel(fake: FakeServer) -> None:
    stream = client(fake).chat.completions.create(
        model="gpt-test",
        messages=user("both please [[fake:tools=parallel]]"),
        tools=[WEATHER_TOOL, TIME_TOOL],
        stream=True,
    )
    calls: dict[int, dict[str, str]] = {}
    fragments = 0
    finish = None
    for chunk in stream:
        delta = chunk.choices[0].delta
        finish = chunk.choices[0].finish_reason or finish
        for call in delta.tool_calls or []:
            entry = calls.setdefault(call.index, {"id": "", "name": "", "args": ""})
            if call.id:
                entry["id"] = call.id
                entry["name"] = call.function.name or ""
                assert call.function.arguments == ""
            else:
                fragments += 1
                entry["args"] += call.function.arguments or ""
    assert finish == "tool_calls"
    assert calls[0] == {"id": "call_1", "name": "get_weather", "args": '{"city":"example","unit":"celsius"}'}
    assert calls[1] == {"id": "call_2", "name": "get_time", "args": '{"utc":true}'}
    assert fragments >= 5


def test_forced_tool_and_tool_choice_none(fake: FakeServer) -> None:
    forced = client(fake).chat.completions.create(
        model="m",
        messages=user("time?"),
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_time"}},
    )
    assert forced.choices[0].message.tool_calls[0].function.name == "get_time"
    none = client(fake).chat.completions.create(
        model="m", messages=user("time?"), tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert none.choices[0].message.content == "Fake reply to: time?"


def test_tool_result_reply(fake: FakeServer) -> None:
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
    ]
    reply = client(fake).chat.completions.create(model="m", messages=messages, tools=[WEATHER_TOOL])
    assert reply.choices[0].message.content == "Tool result received: sunny, 21C"
    assert reply.choices[0].finish_reason == "stop"


def test_max_tokens_and_directives(fake: FakeServer) -> None:
    short = client(fake).chat.completions.create(model="m", messages=user("one two three four"), max_tokens=3)
    assert short.choices[0].message.content == "Fake reply to:"
    assert short.choices[0].finish_reason == "length"
    assert short.usage is not None and short.usage.completion_tokens == 3
    usage = (
        client(fake)
        .chat.completions.create(model="m", messages=user("hi [[fake:cached_tokens=7]] [[fake:reasoning_tokens=5]]"))
        .usage
    )
    assert usage is not None
    assert (usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens) == (3 + 7, 7)
    assert (usage.completion_tokens, usage.completion_tokens_details.reasoning_tokens) == (4 + 5, 5)
    forced = client(fake).chat.completions.create(model="m", messages=user("hi [[fake:finish=length]]"))
    assert forced.choices[0].finish_reason == "length"
    refused = client(fake).chat.completions.create(model="m", messages=user("bad [[fake:refuse]]"))
    assert refused.choices[0].finish_reason == "content_filter"


def test_rate_limit_error_with_retry_after(fake: FakeServer) -> None:
    fake.control("/_fake/script", {"faults": [{"status": 429, "message": "slow down", "retry_after": 3}]})
    with pytest.raises(openai.RateLimitError) as caught:
        client(fake).chat.completions.create(model="m", messages=user("hi"))
    assert caught.value.response.headers["retry-after"] == "3"
    assert caught.value.body == {
        "message": "slow down",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    assert client(fake).chat.completions.create(model="m", messages=user("hi")).choices[0].message.content


def test_server_error_from_directive(fake: FakeServer) -> None:
    with pytest.raises(openai.InternalServerError):
        client(fake).chat.completions.create(model="m", messages=user("x [[fake:status=500]]"))
    with pytest.raises(openai.AuthenticationError):
        client(fake).chat.completions.create(model="m", messages=user("x [[fake:status=401]]"))


def test_mid_stream_cut_raises(fake: FakeServer) -> None:
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        stream = client(fake).chat.completions.create(
            model="m", messages=user("a b c d e f g [[fake:cut_after=3]]"), stream=True
        )
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "Fake reply to: "


def test_drop_raises_connection_error(fake: FakeServer) -> None:
    fake.control("/_fake/script", {"faults": [{"drop": True}, {"cut_after": 1}]})
    with pytest.raises(openai.APIConnectionError):
        client(fake).chat.completions.create(model="m", messages=user("x"))
    with pytest.raises(openai.APIConnectionError):
        client(fake).chat.completions.create(model="m", messages=user("x"))


async def test_async_client_text_stream_and_error(fake: FakeServer) -> None:
    api = aclient(fake)
    reply = await api.chat.completions.create(model="m", messages=user("async hi"))
    assert reply.choices[0].message.content == "Fake reply to: async hi"
    stream = await api.chat.completions.create(model="m", messages=user("async stream"), stream=True)
    text = "".join([c.choices[0].delta.content or "" async for c in stream])
    assert text == "Fake reply to: async stream"
    with pytest.raises(openai.RateLimitError):
        await api.chat.completions.create(model="m", messages=user("x [[fake:status=429]]"))
    with pytest.raises(openai.APIConnectionError):
        stream = await api.chat.completions.create(model="m", messages=user("x [[fake:cut_after=1]]"), stream=True)
        async for _ in stream:
            pass
    await api.close()


def test_embeddings_float_base64_and_similarity(fake: FakeServer) -> None:
    api = client(fake)
    result = api.embeddings.create(
        model="emb", input=["the cat sat on the mat", "the cat sat on a mat", "quantum chromodynamics"]
    )
    vectors = [d.embedding for d in result.data]
    assert all(len(v) == 64 for v in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-5 for v in vectors)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > 0.6 > cos(vectors[0], vectors[2])
    again = api.embeddings.create(model="emb", input="the cat sat on the mat", encoding_format="float")
    assert again.data[0].embedding == pytest.approx(vectors[0], abs=1e-6)
    sized = api.embeddings.create(model="emb", input="x", dimensions=16)
    assert len(sized.data[0].embedding) == 16
    assert result.usage.prompt_tokens == 6 + 6 + 2


def test_models_list(fake: FakeServer) -> None:
    models = client(fake).models.list()
    assert "fake-model" in [m.id for m in models.data]
