"""`adaptive-proxy serve` as a real process, the fake upstream behind it, the official openai SDK in front."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.e2e.conftest import three_provider_config
from tests.e2e.gateway_process import launch

pytestmark = pytest.mark.e2e
MODEL = "fake_openai:gpt-4o-mini"
TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                   "required": ["city", "days"]}}}]


@pytest.fixture(scope="module")
def base_url(start_gateway, gateway_config) -> str:
    return start_gateway(gateway_config) + "/v1"


def _user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def test_sync_completion_names_the_provider(base_url: str, fake) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="client-key", max_retries=0)
    raw = client.chat.completions.with_raw_response.create(model=MODEL, messages=_user("hello gateway"),
                                                           extra_headers={"X-Request-ID": "e2e-1"})
    reply = raw.parse()
    assert reply.choices[0].message.content == "Fake reply to: hello gateway"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (2, 5)
    assert reply.model_extra["provider"] == "fake_openai"
    assert raw.headers["x-adaptive-provider"] == "fake_openai"
    assert raw.headers["x-adaptive-model"] == "gpt-4o-mini"
    assert raw.headers["x-request-id"] == "e2e-1"
    upstream_headers = fake.last_request["headers"]
    assert upstream_headers["authorization"] == "Bearer test-key"  # the server's key, never the client's


async def test_async_stream_with_usage(base_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    stream = await client.chat.completions.create(model=MODEL, messages=_user("one two three"), stream=True,
                                                  stream_options={"include_usage": True})
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Fake reply to: one two three"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.prompt_tokens, chunks[-1].usage.completion_tokens) == (3, 6)
    await client.close()


def test_sync_tool_call_non_streaming_and_streaming(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="k", max_retries=0)
    reply = client.chat.completions.create(model=MODEL, messages=_user("weather in Paris?"), tools=TOOLS)
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1", "get_weather", '{"city":"example","days":1}')

    stream = client.chat.completions.create(model=MODEL, messages=_user("weather?"), tools=TOOLS, stream=True)
    ids, names, args, finish = set(), set(), "", None
    for chunk in stream:
        if not chunk.choices:
            continue
        for delta in chunk.choices[0].delta.tool_calls or []:
            ids.add(delta.id) if delta.id else None
            names.add(delta.function.name) if delta.function and delta.function.name else None
            args += (delta.function.arguments or "") if delta.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert (ids, names, args, finish) == ({"call_1"}, {"get_weather"}, '{"city":"example","days":1}', "tool_calls")


async def test_async_upstream_errors_reach_the_sdk_typed(base_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="k", max_retries=0)
    with pytest.raises(openai.InternalServerError) as caught:  # 502: upstream failure
        await client.chat.completions.create(model=MODEL, messages=_user("x [[fake:status=500]]"))
    assert caught.value.status_code == 502 and "test-key" not in str(caught.value)
    with pytest.raises(openai.RateLimitError) as limited:
        await client.chat.completions.create(model=MODEL,
                                             messages=_user("x [[fake:status=429]] [[fake:retry_after=3]]"))
    assert limited.value.response.headers["retry-after"] == "3"
    with pytest.raises(openai.BadRequestError):
        await client.chat.completions.create(model="nobody:model", messages=_user("x"))
    stream = await client.chat.completions.create(model=MODEL, stream=True,
                                                  messages=_user("a b c d e f [[fake:cut_after=2]]"))
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    await client.close()


def test_models_list(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="k")
    ids = {m.id for m in client.models.list()}
    assert {"fake_openai:gpt-4o-mini", "fake_anthropic:claude-sonnet-4-5", "fake_gemini:gemini-2.5-flash"} <= ids


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_shutdown_lets_an_inflight_stream_finish(tmp_path: Path, fake_upstream: str, sig: signal.Signals) -> None:
    config = three_provider_config(fake_upstream, server={"log_level": "info", "shutdown_timeout_s": 10})
    gateway = launch(config, tmp_path)
    process = gateway.process
    try:
        client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="k", max_retries=0)
        stream = client.chat.completions.create(
            model=MODEL, stream=True, messages=_user("w1 w2 w3 w4 w5 w6 [[fake:chunk_delay_ms=80]]"))
        first = next(iter(stream))
        assert first.choices
        threading.Timer(0.05, process.send_signal, args=(sig,)).start()
        started = time.monotonic()
        rest = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        assert rest.endswith("w5 w6")  # the stream completed after the signal
        # a graceful drain is a clean exit: 0, not the re-raised signal (143 / 130)
        assert process.wait(timeout=15) == 0
        assert time.monotonic() - started < 10
        log = gateway.log()
        assert "Waiting for application shutdown." in log and "Finished server process" in log
        assert "Traceback" not in log
        with pytest.raises(openai.APIConnectionError):  # no longer accepting
            client.chat.completions.create(model=MODEL, messages=_user("late"))
    finally:
        gateway.stop(timeout_s=0)
