"""The official google-genai SDK (sync and async) against the fake upstream."""

from __future__ import annotations

import httpx
import httpx2
import pytest
from google import genai
from google.genai import errors, types

from tests.fake_upstream.conftest import FakeServer

WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="weather for a city",
    parameters=types.Schema(
        type=types.Type.OBJECT,
        properties={
            "city": types.Schema(type=types.Type.STRING),
            "days": types.Schema(type=types.Type.INTEGER),
            "metric": types.Schema(type=types.Type.BOOLEAN),
        },
        required=["city", "metric"],
    ),
)
CLOCK = types.FunctionDeclaration(
    name="clock", parameters_json_schema={"type": "object", "properties": {"tz": {"type": "string"}}}
)
TOOLS = [types.Tool(function_declarations=[WEATHER, CLOCK])]


def make_client(fake: FakeServer, version: str = "v1beta") -> genai.Client:
    # Keep a reference to the Client: once it is garbage collected it closes its
    # HTTP client, so ``genai.Client(...).models.generate_content(...)`` fails.
    options = types.HttpOptions(base_url=fake.url, api_version=version, timeout=10_000)
    return genai.Client(api_key="g-test", http_options=options)


@pytest.fixture
def api(fake: FakeServer) -> genai.Client:
    return make_client(fake)


def test_text_reply_usage_and_path(fake: FakeServer, api: genai.Client) -> None:
    reply = api.models.generate_content(
        model="gemini-test",
        contents="hello gemini",
        config=types.GenerateContentConfig(system_instruction="be brief now"),
    )
    assert reply.text == "Fake reply to: hello gemini"
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    assert reply.model_version == "gemini-test"
    assert reply.response_id.startswith("fake-")
    usage = reply.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (5, 5, 10)
    assert (usage.cached_content_token_count, usage.thoughts_token_count) == (0, 0)
    last = fake.stats()["last_request"]
    assert last["path"] == "/v1beta/models/gemini-test:generateContent"
    assert last["headers"]["x-goog-api-key"] == "g-test"
    assert last["body"]["systemInstruction"]["parts"][0]["text"] == "be brief now"


def test_stream_text(fake: FakeServer, api: genai.Client) -> None:
    chunks = list(api.models.generate_content_stream(model="gemini-test", contents="stream me now"))
    assert "".join(c.text or "" for c in chunks) == "Fake reply to: stream me now"
    assert len(chunks) == 6
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    assert chunks[-1].usage_metadata.candidates_token_count == 6


def test_function_call_and_response(fake: FakeServer, api: genai.Client) -> None:
    reply = api.models.generate_content(
        model="g",
        contents="weather?",
        config=types.GenerateContentConfig(
            tools=TOOLS, automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
        ),
    )
    calls = reply.function_calls or []
    assert [(c.id, c.name, c.args) for c in calls] == [("call_1", "get_weather", {"city": "example", "metric": True})]
    assert reply.candidates[0].finish_reason == types.FinishReason.STOP
    contents = [
        types.Content(role="user", parts=[types.Part(text="weather?")]),
        reply.candidates[0].content,
        types.Content(
            role="user",
            parts=[types.Part.from_function_response(name="get_weather", response={"result": "rainy 12C"})],
        ),
    ]
    followup = api.models.generate_content(
        model="g", contents=contents, config=types.GenerateContentConfig(tools=TOOLS)
    )
    assert followup.text == "Tool result received: rainy 12C"


def test_function_calls_stream_parallel_and_forced(fake: FakeServer, api: genai.Client) -> None:
    config = types.GenerateContentConfig(
        tools=TOOLS, automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
    )
    chunks = list(api.models.generate_content_stream(model="g", contents="x [[fake:tools=parallel]]", config=config))
    names = [c.name for chunk in chunks for c in chunk.function_calls or []]
    assert names == ["get_weather", "clock"]
    forced = api.models.generate_content(
        model="g",
        contents="time",
        config=types.GenerateContentConfig(
            tools=TOOLS,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["clock"])
            ),
        ),
    )
    assert forced.function_calls[0].name == "clock"
    assert forced.function_calls[0].args == {"tz": "example"}


def test_max_tokens_safety_and_usage_directives(fake: FakeServer, api: genai.Client) -> None:
    short = api.models.generate_content(
        model="g", contents="a b c d", config=types.GenerateContentConfig(max_output_tokens=2)
    )
    assert short.text == "Fake reply"
    assert short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    blocked = api.models.generate_content(model="g", contents="x [[fake:refuse]]")
    assert blocked.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert blocked.text is None
    usage = api.models.generate_content(
        model="g", contents="hi [[fake:cached_tokens=3]] [[fake:reasoning_tokens=2]]"
    ).usage_metadata
    assert (usage.prompt_token_count, usage.cached_content_token_count) == (4, 3)
    assert (usage.candidates_token_count, usage.thoughts_token_count, usage.total_token_count) == (4, 2, 10)


def test_count_tokens_and_other_versions(fake: FakeServer, api: genai.Client) -> None:
    assert api.models.count_tokens(model="g", contents="one two three").total_tokens == 3
    for version in ("v1", "v1alpha"):
        versioned = make_client(fake, version)
        assert versioned.models.generate_content(model="g", contents="v").text == "Fake reply to: v"
        assert fake.stats()["last_request"]["path"] == f"/{version}/models/g:generateContent"


def test_errors_map_to_typed_exceptions(fake: FakeServer, api: genai.Client) -> None:
    fake.control("/_fake/script", {"faults": [{"status": 429, "retry_after": 5}, {"status": 500, "message": "boom"}]})
    with pytest.raises(errors.ClientError) as client_error:
        api.models.generate_content(model="g", contents="x")
    assert (client_error.value.code, client_error.value.status) == (429, "RESOURCE_EXHAUSTED")
    with pytest.raises(errors.ServerError) as server_error:
        api.models.generate_content(model="g", contents="x")
    assert (server_error.value.code, server_error.value.message) == (500, "boom")
    with pytest.raises(errors.ServerError):
        list(api.models.generate_content_stream(model="g", contents="x [[fake:status=503]]"))


def test_mid_stream_cut_and_drop(fake: FakeServer, api: genai.Client) -> None:
    seen: list[str] = []
    with pytest.raises((httpx2.RemoteProtocolError, httpx.RemoteProtocolError)):
        for chunk in api.models.generate_content_stream(model="g", contents="a b c d [[fake:cut_after=2]]"):
            seen.append(chunk.text or "")
    assert seen == ["Fake ", "reply "]
    with pytest.raises((httpx2.RemoteProtocolError, httpx.RemoteProtocolError)):
        api.models.generate_content(model="g", contents="x [[fake:drop]]")


async def test_async_client(fake: FakeServer, api: genai.Client) -> None:
    aio = api.aio
    reply = await aio.models.generate_content(model="g", contents="async")
    assert reply.text == "Fake reply to: async"
    stream = await aio.models.generate_content_stream(model="g", contents="async stream")
    text = "".join([chunk.text or "" async for chunk in stream])
    assert text == "Fake reply to: async stream"
    with pytest.raises(errors.ClientError):
        await aio.models.generate_content(model="g", contents="x [[fake:status=429]]")
    with pytest.raises((httpx2.RemoteProtocolError, httpx.RemoteProtocolError)):
        stream = await aio.models.generate_content_stream(model="g", contents="a b [[fake:cut_after=1]]")
        async for _ in stream:
            pass
