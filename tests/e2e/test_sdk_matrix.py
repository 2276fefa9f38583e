"""Every official client x every provider kind x {text, tool call} x {plain, streamed}, through a
real gateway (uvicorn subprocess) in front of the fake upstream.

The fake's replies are deterministic (see devtools.fake_upstream): text "Fake reply to: <prompt>",
a call to the first tool with example arguments, usage = word counts. Each case checks that the
SDK parsed the reply and that text, tool-call arguments, stop reason and usage match what the
upstream sent, and that the upstream saw the gateway's key, never the client's.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.e2e.conftest import three_provider_config

pytestmark = pytest.mark.e2e

CLIENT_KEY = "client-secret-key"
PROMPT = "What is the weather in Paris"
PROMPT_WORDS = 6
REPLY = f"Fake reply to: {PROMPT}"
REPLY_WORDS = len(REPLY.split())
TOOL_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City name"},
                   "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city", "unit"],
    "additionalProperties": False,
    "$schema": "http://json-schema.org/draft-07/schema#",
}
TOOL_ARGS = {"city": "example", "unit": "c"}
TOOL_WORDS = len(json.dumps(TOOL_ARGS, separators=(",", ":"))) // 4
MODELS = {
    "openai": "fake_openai:gpt-4o-mini",
    "anthropic": "fake_anthropic:claude-sonnet-4-5",
    "gemini": "fake_gemini:gemini-2.5-flash",
}
PROVIDER_KINDS = list(MODELS)


@pytest.fixture(scope="module")
def gateway(start_gateway: Any, fake_upstream: str) -> str:
    # Injected failures must surface as they are (no retries) and must not open a circuit breaker
    # that later cases of the matrix would then run into.
    return start_gateway(three_provider_config(
        fake_upstream, fallback={"mode": "off", "max_retries": 0, "breaker": {"failure_threshold": 1_000_000}}))


@pytest.fixture(scope="module")
def openai_client(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=CLIENT_KEY, base_url=f"{gateway}/v1", max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def anthropic_client(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key=CLIENT_KEY, base_url=gateway, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def gemini_client(gateway: str) -> genai.Client:
    return genai.Client(api_key=CLIENT_KEY, http_options=gtypes.HttpOptions(base_url=gateway, timeout=10_000))


def assert_upstream_saw_gateway_key(fake: Any, kind: str) -> None:
    headers = fake.last_request["headers"]
    assert CLIENT_KEY not in json.dumps(headers)
    if kind == "gemini":
        assert headers["x-goog-api-key"] == "test-key"
    else:
        assert headers["authorization"] == "Bearer test-key"


# --- OpenAI client ---------------------------------------------------------------------------

OPENAI_TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                                  "parameters": TOOL_SCHEMA}}]


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_openai_client(openai_client: openai.OpenAI, fake: Any, kind: str, tools: bool) -> None:
    extra: dict[str, Any] = {"tools": OPENAI_TOOLS} if tools else {}
    reply = openai_client.chat.completions.create(
        model=MODELS[kind], messages=[{"role": "user", "content": PROMPT}], **extra)
    choice = reply.choices[0]
    assert reply.usage is not None and reply.usage.prompt_tokens == PROMPT_WORDS
    if tools:
        assert choice.finish_reason == "tool_calls"
        call = choice.message.tool_calls[0]
        assert call.function.name == "get_weather"
        assert json.loads(call.function.arguments) == TOOL_ARGS
        assert call.id
        assert reply.usage.completion_tokens == TOOL_WORDS
    else:
        assert choice.finish_reason == "stop"
        assert choice.message.content == REPLY
        assert reply.usage.completion_tokens == REPLY_WORDS
    assert_upstream_saw_gateway_key(fake, kind)


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_openai_client_streaming(openai_client: openai.OpenAI, fake: Any, kind: str, tools: bool) -> None:
    extra: dict[str, Any] = {"tools": OPENAI_TOOLS} if tools else {}
    stream = openai_client.chat.completions.create(
        model=MODELS[kind], messages=[{"role": "user", "content": PROMPT}], stream=True,
        stream_options={"include_usage": True}, **extra)
    text, finish, usage = "", None, None
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            text += choice.delta.content or ""
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    assert usage is not None and usage.prompt_tokens == PROMPT_WORDS
    if tools:
        assert finish == "tool_calls"
        assert calls[0]["name"] == "get_weather" and calls[0]["id"]
        assert json.loads(calls[0]["arguments"]) == TOOL_ARGS
        assert usage.completion_tokens == TOOL_WORDS
    else:
        assert finish == "stop"
        assert text == REPLY
        assert usage.completion_tokens == REPLY_WORDS


# --- Anthropic client ------------------------------------------------------------------------

ANTHROPIC_TOOLS = [{"name": "get_weather", "description": "Weather for a city", "input_schema": TOOL_SCHEMA}]


def _check_anthropic_message(message: Any, tools: bool) -> None:
    assert message.usage.input_tokens == PROMPT_WORDS
    if tools:
        assert message.stop_reason == "tool_use"
        block = next(b for b in message.content if b.type == "tool_use")
        assert block.name == "get_weather" and block.id
        assert block.input == TOOL_ARGS
        assert message.usage.output_tokens == TOOL_WORDS
    else:
        assert message.stop_reason == "end_turn"
        assert "".join(b.text for b in message.content if b.type == "text") == REPLY
        assert message.usage.output_tokens == REPLY_WORDS


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_anthropic_client(anthropic_client: anthropic.Anthropic, fake: Any, kind: str, tools: bool) -> None:
    extra: dict[str, Any] = {"tools": ANTHROPIC_TOOLS} if tools else {}
    message = anthropic_client.messages.create(
        model=MODELS[kind], max_tokens=256, messages=[{"role": "user", "content": PROMPT}], **extra)
    _check_anthropic_message(message, tools)
    assert_upstream_saw_gateway_key(fake, kind)


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_anthropic_client_streaming(anthropic_client: anthropic.Anthropic, fake: Any, kind: str, tools: bool) -> None:
    extra: dict[str, Any] = {"tools": ANTHROPIC_TOOLS} if tools else {}
    with anthropic_client.messages.stream(
            model=MODELS[kind], max_tokens=256, messages=[{"role": "user", "content": PROMPT}], **extra) as stream:
        kinds = [event.type for event in stream]
        message = stream.get_final_message()
    assert kinds[0] == "message_start" and "message_stop" in kinds
    _check_anthropic_message(message, tools)


def test_anthropic_raw_event_sequence(anthropic_client: anthropic.Anthropic, fake: Any) -> None:
    with anthropic_client.messages.with_streaming_response.create(
            model=MODELS["openai"], max_tokens=64, stream=True,
            messages=[{"role": "user", "content": PROMPT}]) as response:
        lines = [line for line in response.iter_lines() if line.startswith("event:")]
    names = [line.split(":", 1)[1].strip() for line in lines]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}


# --- google-genai client ---------------------------------------------------------------------

GEMINI_TOOLS = [gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
    name="get_weather", description="Weather for a city",
    parameters=gtypes.Schema(type=gtypes.Type.OBJECT, required=["city", "unit"], properties={
        "city": gtypes.Schema(type=gtypes.Type.STRING, description="City name"),
        "unit": gtypes.Schema(type=gtypes.Type.STRING, enum=["c", "f"]),
    }))])]


def _gemini_config(tools: bool) -> gtypes.GenerateContentConfig | None:
    return gtypes.GenerateContentConfig(tools=GEMINI_TOOLS) if tools else None


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_gemini_client(gemini_client: genai.Client, fake: Any, kind: str, tools: bool) -> None:
    reply = gemini_client.models.generate_content(model=MODELS[kind], contents=PROMPT, config=_gemini_config(tools))
    usage = reply.usage_metadata
    assert usage is not None and usage.prompt_token_count == PROMPT_WORDS
    assert reply.candidates[0].finish_reason == gtypes.FinishReason.STOP
    if tools:
        call = reply.function_calls[0]
        assert call.name == "get_weather" and call.args == TOOL_ARGS and call.id
        assert usage.candidates_token_count == TOOL_WORDS
    else:
        assert reply.text == REPLY
        assert usage.candidates_token_count == REPLY_WORDS
    assert usage.total_token_count == PROMPT_WORDS + usage.candidates_token_count
    assert_upstream_saw_gateway_key(fake, kind)


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool"])
def test_gemini_client_streaming(gemini_client: genai.Client, fake: Any, kind: str, tools: bool) -> None:
    chunks = list(gemini_client.models.generate_content_stream(
        model=MODELS[kind], contents=PROMPT, config=_gemini_config(tools)))
    usage = chunks[-1].usage_metadata
    assert usage is not None and usage.prompt_token_count == PROMPT_WORDS
    assert chunks[-1].candidates[0].finish_reason == gtypes.FinishReason.STOP
    if tools:
        calls = [call for chunk in chunks for call in chunk.function_calls or ()]
        assert [c.name for c in calls] == ["get_weather"] and calls[0].args == TOOL_ARGS
        assert usage.candidates_token_count == TOOL_WORDS
    else:
        assert "".join(chunk.text or "" for chunk in chunks) == REPLY
        assert len(chunks) > 1  # streamed, not buffered into one chunk
        assert usage.candidates_token_count == REPLY_WORDS


# --- mid-stream upstream failure -------------------------------------------------------------

CUT_PROMPT = "tell me a long story please [[fake:cut_after=2]]"


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
def test_openai_client_sees_mid_stream_failure(openai_client: openai.OpenAI, fake: Any, kind: str) -> None:
    stream = openai_client.chat.completions.create(
        model=MODELS[kind], messages=[{"role": "user", "content": CUT_PROMPT}], stream=True)
    text = ""
    with pytest.raises(openai.APIError):
        for chunk in stream:
            for choice in chunk.choices:
                text += choice.delta.content or ""
    assert text.startswith("Fake reply")


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
def test_anthropic_client_sees_mid_stream_failure(anthropic_client: anthropic.Anthropic, fake: Any,
                                                  kind: str) -> None:
    text = ""
    with pytest.raises(anthropic.APIStatusError) as caught:
        with anthropic_client.messages.stream(model=MODELS[kind], max_tokens=256,
                                              messages=[{"role": "user", "content": CUT_PROMPT}]) as stream:
            for chunk in stream.text_stream:
                text += chunk
    assert text.startswith("Fake reply")
    assert caught.value.body["type"] == "error"


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
def test_gemini_client_sees_mid_stream_failure(gemini_client: genai.Client, fake: Any, kind: str) -> None:
    text = ""
    with pytest.raises(genai_errors.APIError) as caught:
        for chunk in gemini_client.models.generate_content_stream(model=MODELS[kind], contents=CUT_PROMPT):
            text += chunk.text or ""
    assert text.startswith("Fake reply")
    assert caught.value.code >= 500


# --- errors in each family's shape -----------------------------------------------------------

BAD_PROMPT = "hello [[fake:status=400]] [[fake:message=bad thing]]"


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
def test_upstream_rejection_reaches_every_client_typed(openai_client: openai.OpenAI,
                                                       anthropic_client: anthropic.Anthropic,
                                                       gemini_client: genai.Client, fake: Any, kind: str) -> None:
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model=MODELS[kind], messages=[{"role": "user", "content": BAD_PROMPT}])
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model=MODELS[kind], max_tokens=32,
                                         messages=[{"role": "user", "content": BAD_PROMPT}])
    with pytest.raises(genai_errors.ClientError) as caught:
        gemini_client.models.generate_content(model=MODELS[kind], contents=BAD_PROMPT)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"


def test_unknown_model_is_a_typed_not_found_or_bad_request(gemini_client: genai.Client,
                                                          anthropic_client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model="nope:model", max_tokens=8, messages=[{"role": "user", "content": "x"}])
    with pytest.raises(genai_errors.ClientError):
        gemini_client.models.generate_content(model="nope:model", contents="x")


def test_token_counting(anthropic_client: anthropic.Anthropic, gemini_client: genai.Client, fake: Any) -> None:
    for kind in PROVIDER_KINDS:
        counted = anthropic_client.messages.count_tokens(model=MODELS[kind],
                                                         messages=[{"role": "user", "content": PROMPT}])
        assert counted.input_tokens > 0
        gemini_count = gemini_client.models.count_tokens(model=MODELS[kind], contents=PROMPT)
        assert gemini_count.total_tokens > 0
    # The Anthropic and Gemini upstreams count words exactly.
    assert anthropic_client.messages.count_tokens(
        model=MODELS["anthropic"], messages=[{"role": "user", "content": PROMPT}]).input_tokens == PROMPT_WORDS
    assert gemini_client.models.count_tokens(model=MODELS["gemini"], contents=PROMPT).total_tokens == PROMPT_WORDS


# --- cached and reasoning tokens, thinking -----------------------------------------------------

USAGE_PROMPT = "Hi there [[fake:cached_tokens=7]] [[fake:reasoning_tokens=5]]"


@pytest.mark.parametrize("kind", PROVIDER_KINDS)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_cached_and_reasoning_tokens_reach_every_client(openai_client: openai.OpenAI,
                                                        anthropic_client: anthropic.Anthropic,
                                                        gemini_client: genai.Client, fake: Any,
                                                        kind: str, stream: bool) -> None:
    # The fake reports 2 prompt words + 7 cached, and 5 reasoning tokens (Anthropic: output_tokens_details).
    reasoning = 5
    messages = [{"role": "user", "content": USAGE_PROMPT}]
    if stream:
        chunks = list(openai_client.chat.completions.create(model=MODELS[kind], messages=messages, stream=True,
                                                            stream_options={"include_usage": True}))
        usage = chunks[-1].usage
    else:
        usage = openai_client.chat.completions.create(model=MODELS[kind], messages=messages).usage
    assert usage.prompt_tokens == 9 and usage.prompt_tokens_details.cached_tokens == 7
    assert usage.completion_tokens_details.reasoning_tokens == reasoning

    if stream:
        with anthropic_client.messages.stream(model=MODELS[kind], max_tokens=64, messages=messages) as s:
            anthropic_usage = s.get_final_message().usage
    else:
        anthropic_usage = anthropic_client.messages.create(model=MODELS[kind], max_tokens=64, messages=messages).usage
    assert anthropic_usage.input_tokens == 2 and anthropic_usage.cache_read_input_tokens == 7
    assert anthropic_usage.output_tokens_details.thinking_tokens == reasoning

    if stream:
        gemini_usage = list(gemini_client.models.generate_content_stream(
            model=MODELS[kind], contents=USAGE_PROMPT))[-1].usage_metadata
    else:
        gemini_usage = gemini_client.models.generate_content(model=MODELS[kind], contents=USAGE_PROMPT).usage_metadata
    assert gemini_usage.prompt_token_count == 9 and gemini_usage.cached_content_token_count == 7
    assert (gemini_usage.thoughts_token_count or 0) == reasoning


@pytest.mark.parametrize("kind", ["gemini", "openai"])
def test_anthropic_thinking_request_reaches_other_providers(anthropic_client: anthropic.Anthropic, fake: Any,
                                                            kind: str) -> None:
    message = anthropic_client.messages.create(
        model=MODELS[kind], max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": PROMPT}])
    sent = fake.last_request["body"]
    if kind == "gemini":
        assert sent["generationConfig"]["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}
        assert message.content[0].type == "thinking"
        assert message.content[0].thinking == "Let me think about this step by step."
    else:
        assert sent["reasoning_effort"] == "low"
    assert message.content[-1].text == REPLY


def test_gemini_thoughts_from_an_anthropic_provider(gemini_client: genai.Client, fake: Any) -> None:
    config = gtypes.GenerateContentConfig(thinking_config=gtypes.ThinkingConfig(thinking_budget=2048,
                                                                                include_thoughts=True))
    reply = gemini_client.models.generate_content(model=MODELS["anthropic"], contents=PROMPT, config=config)
    assert fake.last_request["body"]["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    parts = reply.candidates[0].content.parts
    assert parts[0].thought and parts[0].text == "Let me think about this step by step."
    assert reply.text == REPLY


@pytest.mark.parametrize(("directive", "openai_error", "anthropic_error", "gemini_error"), [
    ("[[fake:status=500]]", openai.InternalServerError, anthropic.InternalServerError, genai_errors.ServerError),
    ("[[fake:status=429]] [[fake:retry_after=1]]", openai.RateLimitError, anthropic.RateLimitError,
     genai_errors.ClientError),
])
def test_upstream_failures_are_typed_in_every_sdk(openai_client: openai.OpenAI, anthropic_client: anthropic.Anthropic,
                                                  gemini_client: genai.Client, fake: Any, directive: str,
                                                  openai_error: type, anthropic_error: type,
                                                  gemini_error: type) -> None:
    prompt = f"hello {directive}"
    model = MODELS["anthropic"]
    with pytest.raises(openai_error):
        openai_client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}])
    with pytest.raises(anthropic_error):
        anthropic_client.messages.create(model=model, max_tokens=16, messages=[{"role": "user", "content": prompt}])
    with pytest.raises(gemini_error):
        gemini_client.models.generate_content(model=model, contents=prompt)
