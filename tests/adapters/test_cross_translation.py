"""Any inbound family to any provider kind (3 x 3), for requests, responses and streams.

The same conversation recorded in each family's shape (tests/fixtures/conversation.json: system
prompt, image, assistant text with two parallel tool calls, both results, a follow-up) must mean the
same thing in the domain, and survive being written for each provider and read back. Recorded
responses and streams of each provider (tool calls, the streamed ones split across many chunks)
must reach each client family's shape without losing text, calls, finish reason or usage.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.wire.anthropic import request as anthropic_request
from adapters.wire.anthropic import response as anthropic_response
from adapters.wire.anthropic import stream as anthropic_stream
from adapters.wire.anthropic import upstream as anthropic_body
from adapters.wire.gemini import request as gemini_request
from adapters.wire.gemini import response as gemini_response
from adapters.wire.gemini import stream as gemini_stream
from adapters.wire.gemini import upstream as gemini_body
from adapters.wire.openai import request as openai_request
from adapters.wire.openai import response as openai_response
from adapters.wire.openai import stream as openai_stream
from adapters.wire.openai import upstream as openai_upstream
from domain.chat import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    StreamEvent,
    TextPart,
    ThinkingPart,
    collect_stream,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
FAMILIES = ["openai", "anthropic", "gemini"]
CONVERSATIONS = orjson.loads((FIXTURES / "conversation.json").read_bytes())
RESPONSES = orjson.loads((FIXTURES / "responses_tools.json").read_bytes())


def parse_inbound(family: str, body: dict[str, Any]) -> ChatRequest:
    if family == "openai":
        return openai_request.parse_request(body)
    if family == "anthropic":
        return anthropic_request.parse_request(body)
    return gemini_request.parse_request(body, "any", stream=False)


def build_outbound(kind: str, request: ChatRequest) -> dict[str, Any]:
    if kind == "openai":
        return openai_upstream.build_request(request, "target", stream=False)
    if kind == "anthropic":
        return anthropic_body.build_request(request, "target", stream=False)
    return gemini_body.build_request(request)


def meaning(request: ChatRequest) -> dict[str, Any]:
    """What a conversation says, independent of the family that said it (ids become ordinals)."""
    ids: dict[str, str] = {}

    def ordinal(call_id: str | None) -> str | None:
        return None if call_id is None else ids.setdefault(call_id, f"#{len(ids)}")

    messages = []
    for m in request.messages:
        parts = []
        for p in m.content:
            if isinstance(p, TextPart):
                parts.append(("text", p.text))
            elif isinstance(p, ImagePart):
                parts.append(("image", p.data or p.url, p.media_type if p.data else None))
        calls = [(ordinal(c.id), c.name, orjson.loads(c.arguments)) for c in m.tool_calls]
        messages.append((m.role, parts, calls, ordinal(m.tool_call_id)))
    return {
        "system": " ".join(p.text for p in request.system),
        "messages": messages,
        "tools": [(t.name, t.description, sorted(t.parameters.get("properties", {})),
                   t.parameters.get("required")) for t in request.tools],
        "tool_choice": request.tool_choice.mode if request.tool_choice else "auto",
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "stop": request.stop,
    }


@pytest.fixture(scope="module")
def expected_meaning() -> dict[str, Any]:
    return meaning(parse_inbound("openai", CONVERSATIONS["openai"]))


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_says_the_same_thing(family: str, expected_meaning: dict[str, Any]) -> None:
    assert meaning(parse_inbound(family, CONVERSATIONS[family])) == expected_meaning


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", FAMILIES)
def test_request_survives_translation(family: str, kind: str, expected_meaning: dict[str, Any]) -> None:
    request = parse_inbound(family, CONVERSATIONS[family])
    request.raw = None  # force translation even when the families match
    body = orjson.loads(orjson.dumps(build_outbound(kind, request)))  # must be plain JSON
    if kind == "gemini":
        assert body["tools"][0]["functionDeclarations"][0]["parameters"]["type"] == "object"
    back = parse_inbound(kind, body)
    assert meaning(back) == expected_meaning


@pytest.mark.parametrize("family", FAMILIES)
def test_same_family_passes_the_body_through(family: str) -> None:
    body = {**CONVERSATIONS[family], "vendor_extension": {"keep": True}}
    out = build_outbound(family, parse_inbound(family, body))
    assert out["vendor_extension"] == {"keep": True}


# --- responses -------------------------------------------------------------------------------

PARSE_RESPONSE: dict[str, Callable[[dict[str, Any]], ChatResponse]] = {
    "openai": openai_response.parse_response,
    "anthropic": anthropic_response.parse_response,
    "gemini": gemini_response.parse_response,
}


def encode_for_client(family: str, response: ChatResponse) -> dict[str, Any]:
    if family == "openai":
        return openai_response.encode_response(response, "prov")
    if family == "anthropic":
        return anthropic_response.encode_response(response)
    return gemini_response.encode_response(response)


def response_meaning(response: ChatResponse, ids: bool = True) -> tuple[Any, ...]:
    return (response.text(), [(c.id if ids else "", c.name, orjson.loads(c.arguments)) for c in response.tool_calls],
            response.finish_reason, response.usage)


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("client", FAMILIES)
def test_response_reaches_every_client(kind: str, client: str) -> None:
    response = PARSE_RESPONSE[kind](RESPONSES[kind])
    assert response.finish_reason == "tool_calls" and len(response.tool_calls) == 2
    assert response.usage.input_tokens == 472 and response.usage.cache_read_tokens == 400
    if client != kind:
        response.raw = None
    encoded = orjson.loads(orjson.dumps(encode_for_client(client, response)))
    # Gemini's own calls carry no ids: read twice, they get two sets of made-up ones.
    ids = not (kind == client == "gemini")
    assert response_meaning(PARSE_RESPONSE[client](encoded), ids) == response_meaning(response, ids)


# --- streams ---------------------------------------------------------------------------------


def read_sse(raw: bytes) -> list[dict[str, Any]]:
    out = []
    for frame in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        for line in frame.split(b"\n"):
            if line.startswith(b"data: ") and line != b"data: [DONE]":
                out.append(orjson.loads(line[6:]))
    return out


def parser_for(family: str) -> Any:
    return {"openai": openai_stream.StreamParser, "anthropic": anthropic_stream.StreamParser,
            "gemini": gemini_stream.StreamParser}[family]()


def encoder_for(family: str) -> Callable[[StreamEvent], bytes]:
    if family == "openai":
        return openai_stream.StreamEncoder("prov", include_usage=True).encode
    if family == "anthropic":
        return anthropic_stream.StreamEncoder().encode
    return gemini_stream.StreamEncoder(sse=True).encode


def provider_events(kind: str) -> list[StreamEvent]:
    parser = parser_for(kind)
    events = [e for chunk in read_sse((FIXTURES / f"{kind}_stream_tools.sse").read_bytes())
              for e in parser.feed(chunk)]
    return [*events, parser.end()]


def stream_meaning(response: ChatResponse) -> tuple[Any, ...]:
    thinking = "".join(p.text for p in response.content if isinstance(p, ThinkingPart))
    return (thinking, *response_meaning(response))


@pytest.mark.parametrize("kind", FAMILIES)
@pytest.mark.parametrize("client", FAMILIES)
def test_stream_reaches_every_client_incrementally(kind: str, client: str) -> None:
    events = provider_events(kind)
    expected = collect_stream(events)
    assert [c.name for c in expected.tool_calls] == ["get_weather", "get_time"]
    assert expected.usage.input_tokens == 472 and expected.usage.cache_read_tokens == 400
    encode = encoder_for(client)
    frames = [encode(e) for e in events]
    # Incremental: output appears while the provider's stream is still going, not only at the end
    # (a Gemini client gets each call once it is complete: the first when the second starts).
    assert sum(1 for f in frames[:-1] if f) >= (1 if client == "gemini" and kind == "openai" else 3)
    parser = parser_for(client)
    back = [e for chunk in read_sse(b"".join(frames)) for e in parser.feed(chunk)]
    assert stream_meaning(collect_stream([*back, parser.end()])) == stream_meaning(expected)
