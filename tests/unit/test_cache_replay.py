"""A cached answer replayed as a stream of each family: well formed, parsed by the official SDKs
(OpenAI, Anthropic) and by the Gemini wire parser, reporting the cache tier and zero usage."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx2
import openai
import orjson
import pytest

from adapters.memory.keyed_cache import InMemoryResponseCache
from adapters.wire.anthropic import stream as anthropic_stream
from adapters.wire.gemini import stream as gemini_stream
from adapters.wire.openai import stream as openai_stream
from application.response_cache import CacheHit, ResponseCaching
from application.settings import PromptCacheSettings, Settings
from domain.cache_key import CachedResponse
from domain.chat import ChatResponse, StreamEnd, StreamEvent, TextDelta, TextPart, ThinkingPart, Usage, collect_stream

STORED = ChatResponse(id="chatcmpl-orig", model="gpt-4o-mini", created=1700000000,
                      content=[ThinkingPart("Let me think.", signature="c2ln", signed_by="anthropic"),
                               TextPart("The capital of France is Paris.")],
                      usage=Usage(input_tokens=12, output_tokens=8))
HIT = CacheHit(CachedResponse(STORED, "fake_openai", "gpt-4o-mini"), "exact")


def caching(**options: Any) -> ResponseCaching:
    settings = Settings(prompt_cache=PromptCacheSettings(enabled=True, **options))
    return ResponseCaching(settings, InMemoryResponseCache())


async def replayed(delay_ms: int = 0) -> list[StreamEvent]:
    return [e async for e in caching(replay_chunk_delay_ms=delay_ms).replay(HIT)]


async def encoded(encode: Any, events: AsyncIterator[StreamEvent] | None = None) -> bytes:
    source = events or caching().replay(HIT)
    return b"".join([encode(e) async for e in source])


def sse_client_transport(body: bytes) -> httpx2.MockTransport:
    return httpx2.MockTransport(lambda request: httpx2.Response(
        200, content=body, headers={"content-type": "text/event-stream"}))


async def test_replay_is_the_stored_answer_with_zero_usage_and_the_tier() -> None:
    events = await replayed()
    answer = collect_stream(events)
    assert answer.text() == STORED.text() and answer.content[0] == STORED.content[0]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert (end.usage.input_tokens, end.usage.output_tokens, end.usage.cache_tier) == (0, 0, "exact")


async def test_replay_is_immediate_unless_a_delay_is_configured() -> None:
    assert sum(isinstance(e, TextDelta) for e in await replayed()) == 1
    paced = await replayed(delay_ms=1)
    words = [e.text for e in paced if isinstance(e, TextDelta)]
    assert len(words) == len(STORED.text().split()) and "".join(words) == STORED.text()


async def test_openai_replay_parses_in_the_openai_sdk() -> None:
    body = await encoded(openai_stream.StreamEncoder("fake_openai", include_usage=True).encode)
    assert body.endswith(b"data: [DONE]\n\n")
    client = openai.OpenAI(api_key="k", base_url="http://gw/v1",
                           http_client=httpx2.Client(transport=sse_client_transport(body)))
    chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": "q"}],
                                                 stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == STORED.text()
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = chunks[-1].usage
    assert usage is not None and usage.prompt_tokens == 0 and usage.completion_tokens == 0
    assert usage.model_extra == {"cache_tier": "exact"}


async def test_anthropic_replay_parses_in_the_anthropic_sdk() -> None:
    encoder = anthropic_stream.StreamEncoder()
    body = await encoded(encoder.encode)
    names = [line[7:] for line in body.decode().splitlines() if line.startswith("event: ")]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    client = anthropic.Anthropic(api_key="k", base_url="http://gw",
                                 http_client=httpx2.Client(transport=sse_client_transport(body)))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "q"}]) as stream:
        deltas = [event for event in stream if event.type == "message_delta"]
        message = stream.get_final_message()
    # The SDK's accumulated message keeps only the usage fields it knows; the event has them all.
    assert deltas[0].usage.model_extra == {"cache_tier": "exact"}
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[1].text == STORED.text()  # type: ignore[union-attr]
    assert message.content[0].signature == "c2ln"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 0


@pytest.mark.parametrize("sse", [True, False], ids=["sse", "json-array"])
async def test_gemini_replay_is_a_well_formed_stream(sse: bool) -> None:
    body = await encoded(gemini_stream.StreamEncoder(sse=sse).encode)
    if sse:
        chunks = [orjson.loads(line[6:]) for line in body.decode().split("\r\n\r\n") if line.startswith("data: ")]
    else:
        chunks = orjson.loads(body)
    parser = gemini_stream.StreamParser()
    events = [e for chunk in chunks for e in parser.feed(chunk)] + [parser.end()]
    answer = collect_stream(events)
    assert answer.text() == STORED.text()
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"]["cacheTier"] == "exact"
    assert chunks[-1]["usageMetadata"]["totalTokenCount"] == 0


async def test_an_entry_written_from_one_family_replays_in_another() -> None:
    """An OpenAI stream is collected, stored as a domain response, and replayed to Anthropic."""
    upstream = (b'data: {"id":"c1","model":"m","created":1,"choices":[{"index":0,"delta":{"content":"Hi "}}]}\n\n'
                b'data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{"content":"there"},'
                b'"finish_reason":"stop"}]}\n\n')
    parser = openai_stream.StreamParser()
    events = [e for line in upstream.split(b"\n\n") if line for e in parser.feed(orjson.loads(line[6:]))]
    stored = collect_stream([*events, parser.end()])
    hit = CacheHit(CachedResponse(stored, "fake_openai", "m"), "exact")
    body = await encoded(anthropic_stream.StreamEncoder().encode, caching().replay(hit))
    client = anthropic.Anthropic(api_key="k", base_url="http://gw",
                                 http_client=httpx2.Client(transport=sse_client_transport(body)))
    with client.messages.stream(model="m", max_tokens=10, messages=[{"role": "user", "content": "q"}]) as stream:
        assert stream.get_final_text() == "Hi there"
