"""Anthropic Messages wire format <-> domain: requests, responses, stream events."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from adapters.wire.anthropic import request as areq
from adapters.wire.anthropic import response as aresp
from adapters.wire.anthropic import stream as astream
from adapters.wire.anthropic import upstream as abody
from adapters.wire.openai.request import parse_request as parse_openai
from domain.chat import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ResponseFormat,
    StreamEnd,
    StreamStart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    ToolChoice,
    Usage,
    collect_stream,
)
from domain.errors import InvalidRequest, UpstreamError

FIXTURES = Path(__file__).parent.parent / "fixtures"


def load_fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# --- inbound requests ------------------------------------------------------------------------


def test_parse_full_conversation() -> None:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 512,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
                {"type": "image", "source": {"type": "url", "url": "https://x.test/cat.png"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "look", "input": {"q": "cat"}},
                {"type": "tool_use", "id": "toolu_2", "name": "size", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a cat"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
                 "content": [{"type": "text", "text": "failed"}]},
                {"type": "text", "text": "And now?"},
            ]},
        ],
        "tools": [
            {"name": "look", "description": "Look", "input_schema": {"type": "object", "properties": {}},
             "cache_control": {"type": "ephemeral"}},
            {"type": "web_search_20250305", "name": "web_search"},
        ],
        "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
        "stop_sequences": ["END"],
        "temperature": 0.5, "top_p": 0.9, "top_k": 40,
        "metadata": {"user_id": "u-1"},
        "stream": True,
    }
    req = areq.parse_request(body)
    assert req.model == "claude-sonnet-4-5" and req.max_tokens == 512 and req.stream
    assert req.system == [TextPart(text="Be brief.", cache_control={"type": "ephemeral"})]
    user, assistant, result1, result2, follow_up = req.messages
    assert user.content[1] == ImagePart(data="QUJD", media_type="image/jpeg")
    assert user.content[2] == ImagePart(url="https://x.test/cat.png")
    assert assistant.content[0] == ThinkingPart(text="hmm", signature="sig", signed_by="anthropic")
    assert assistant.tool_calls == [ToolCall("toolu_1", "look", '{"q":"cat"}'), ToolCall("toolu_2", "size", "{}")]
    assert (result1.role, result1.tool_call_id, result1.name, result1.text()) == ("tool", "toolu_1", "look", "a cat")
    assert result2.is_error and result2.text() == "failed" and result2.name == "size"
    assert follow_up.role == "user" and follow_up.text() == "And now?"
    assert [t.name for t in req.tools] == ["look"]  # the server tool is dropped
    assert req.tools[0].cache_control == {"type": "ephemeral"}
    assert req.tool_choice == ToolChoice(mode="required", parallel=False)
    assert req.stop == ["END"] and req.temperature == 0.5 and req.top_k == 40 and req.user == "u-1"
    assert req.raw is body and req.raw_family == "anthropic"


def test_parse_thinking_and_output_config() -> None:
    req = areq.parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                              "thinking": {"type": "enabled", "budget_tokens": 10_000},
                              "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}}})
    assert req.thinking_budget == 10_000 and req.reasoning_effort == "high"
    assert req.response_format == ResponseFormat(type="json_schema", schema={"type": "object"})
    effort = areq.parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}],
                                 "output_config": {"effort": "max"}})
    assert effort.reasoning_effort == "high" and effort.thinking_budget is None


@pytest.mark.parametrize(("body", "param"), [
    ({"model": "m", "messages": []}, "messages"),
    ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
    ({"model": "m", "messages": [{"role": "system", "content": "x"}]}, "messages"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 1.5}, "temperature"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
    ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": {"type": "bogus"}},
     "tool_choice"),
    ({"model": 3, "messages": [{"role": "user", "content": "x"}]}, "model"),
])
def test_parse_rejects_invalid_fields(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        areq.parse_request(body)
    assert caught.value.param == param


# --- outbound requests -----------------------------------------------------------------------


def test_passthrough_keeps_unmodelled_fields() -> None:
    body = {"model": "client-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "container": "c1", "provider_configs": {"x": {}}, "stream": True}
    req = areq.parse_request(body)
    out = abody.build_request(req, "claude-x", stream=False)
    assert out == {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
                   "container": "c1"}
    assert abody.build_request(req, "claude-x", stream=True)["stream"] is True


def test_translated_from_openai() -> None:
    openai_body = {
        "model": "any",
        "messages": [
            {"role": "system", "content": "Rule one."},
            {"role": "developer", "content": [{"type": "text", "text": "Rule two."}]},
            {"role": "user", "content": [
                {"type": "text", "text": "Look"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.jpg"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "not json"}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": "one"},
            {"role": "tool", "tool_call_id": "call_b", "content": "two"},
            {"role": "user", "content": "thanks"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
        "temperature": 1.6, "stop": "STOP", "user": "u", "seed": 7,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
    }
    out = abody.build_request(parse_openai(openai_body), "claude", stream=False)
    assert out["system"] == "Rule one.\n\nRule two."
    assert out["messages"][0] == {"role": "user", "content": [
        {"type": "text", "text": "Look"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.jpg"}},
    ]}
    assert out["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_a", "name": "f", "input": {"x": 1}},
        {"type": "tool_use", "id": "call_b", "name": "g", "input": {}},
    ]}
    # Both results and the follow-up text share one user turn, results first.
    assert out["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_a", "content": "one"},
        {"type": "tool_result", "tool_use_id": "call_b", "content": "two"},
        {"type": "text", "text": "thanks"},
    ]}
    assert out["tools"] == [{"name": "f", "input_schema": {"type": "object", "properties": {}}}]
    assert out["tool_choice"] == {"type": "tool", "name": "f", "disable_parallel_tool_use": True}
    assert out["max_tokens"] == abody.DEFAULT_MAX_TOKENS
    assert out["temperature"] == 1.0  # clamped to Anthropic's range
    assert out["stop_sequences"] == ["STOP"] and out["metadata"] == {"user_id": "u"}
    assert out["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}}
    assert "seed" not in out and "stream" not in out


def test_cache_control_survives_to_anthropic() -> None:
    req = ChatRequest(model="m", messages=[Message(role="user", content=[
        TextPart(text="long doc", cache_control={"type": "ephemeral"})])],
        system=[TextPart(text="sys", cache_control={"type": "ephemeral"})],
        tools=[Tool(name="t", parameters={"type": "object", "properties": {"a": {"type": "string"}}},
                    cache_control={"type": "ephemeral"})])
    out = abody.build_request(req, "m", stream=False)
    assert out["system"] == [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}]
    assert out["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral"}
    assert out["tools"][0]["cache_control"] == {"type": "ephemeral"}


def test_reasoning_effort_becomes_a_thinking_budget() -> None:
    req = ChatRequest(model="m", messages=[Message(role="user", content=[TextPart(text="hi")])],
                      reasoning_effort="medium", temperature=0.3, top_k=5)
    out = abody.build_request(req, "m", stream=False)
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert out["max_tokens"] > 8192
    assert "temperature" not in out and "top_k" not in out  # not allowed while thinking
    small = abody.build_request(ChatRequest(model="m", messages=req.messages, reasoning_effort="high",
                                           max_tokens=3000), "m", stream=False)
    assert small["thinking"]["budget_tokens"] < small["max_tokens"] == 3000
    tiny = abody.build_request(ChatRequest(model="m", messages=req.messages, reasoning_effort="high",
                                          max_tokens=500), "m", stream=False)
    assert "thinking" not in tiny


def test_thinking_blocks_need_a_signature() -> None:
    req = ChatRequest(model="m", messages=[
        Message(role="user", content=[TextPart(text="q")]),
        Message(role="assistant", content=[ThinkingPart(text="unsigned"), TextPart(text="a")]),
        Message(role="assistant", content=[ThinkingPart(text="gemini", signature="g", signed_by="gemini")]),
        Message(role="assistant", content=[ThinkingPart(text="signed", signature="s", signed_by="anthropic")],
                tool_calls=[ToolCall("t1", "f", "{}")]),
    ])
    messages = abody.build_request(req, "m", stream=False)["messages"]
    # Unsigned and foreign-signed thinking is dropped; consecutive assistant turns merge.
    assert messages[1]["content"] == [
        {"type": "text", "text": "a"}, {"type": "thinking", "thinking": "signed", "signature": "s"},
        {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]


def test_n_greater_than_one_is_a_clear_400() -> None:
    req = ChatRequest(model="m", messages=[Message(role="user", content=[TextPart(text="hi")])], n=2)
    with pytest.raises(InvalidRequest) as caught:
        abody.build_request(req, "m", stream=False)
    assert caught.value.param == "n"


# --- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("stop", "finish"), [("end_turn", "stop"), ("stop_sequence", "stop"),
                                              ("max_tokens", "length"), ("tool_use", "tool_calls"),
                                              ("refusal", "content_filter"), ("pause_turn", "stop")])
def test_parse_response_stop_reasons(stop: str, finish: str) -> None:
    assert aresp.parse_response({"content": [], "stop_reason": stop}).finish_reason == finish


def test_parse_response_blocks_and_usage() -> None:
    body = {"id": "msg_1", "model": "claude", "stop_reason": "tool_use",
            "content": [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "hi"},
                        {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": [1]}}],
            "usage": {"input_tokens": 10, "output_tokens": 20, "cache_read_input_tokens": 100,
                      "cache_creation_input_tokens": 5, "output_tokens_details": {"thinking_tokens": 3}}}
    resp = aresp.parse_response(body)
    assert resp.content == [ThinkingPart(text="t", signature="s", signed_by="anthropic"), TextPart(text="hi")]
    assert resp.tool_calls == [ToolCall("toolu_1", "f", '{"a":[1]}')]
    assert resp.usage == Usage(input_tokens=115, output_tokens=20, cache_read_tokens=100, cache_write_tokens=5,
                               reasoning_tokens=3)
    assert aresp.encode_response(resp, "a") == {**body, "provider": "a"}  # same family: the upstream body, named


def test_encode_response_from_another_family() -> None:
    resp = ChatResponse(id="chatcmpl-9", model="gpt", content=[TextPart(text="hello")],
                        tool_calls=[ToolCall("call_1", "f", '{"x":1}')], finish_reason="tool_calls",
                        usage=Usage(input_tokens=50, output_tokens=7, cache_read_tokens=20, reasoning_tokens=2))
    out = aresp.encode_response(resp)
    assert out["id"] == "msg_chatcmpl-9" and out["type"] == "message" and out["role"] == "assistant"
    assert out["content"] == [{"type": "text", "text": "hello"},
                              {"type": "tool_use", "id": "call_1", "name": "f", "input": {"x": 1}}]
    assert out["stop_reason"] == "tool_use"
    assert out["usage"] == {"input_tokens": 30, "output_tokens": 7, "cache_read_input_tokens": 20,
                            "cache_creation_input_tokens": 0, "output_tokens_details": {"thinking_tokens": 2}}


@pytest.mark.parametrize(("finish", "stop"), [("stop", "end_turn"), ("length", "max_tokens"),
                                              ("tool_calls", "tool_use"), ("content_filter", "refusal")])
def test_encode_stop_reasons(finish: str, stop: str) -> None:
    assert aresp.encode_response(ChatResponse(id="x", model="m", finish_reason=finish))["stop_reason"] == stop


# --- streams ---------------------------------------------------------------------------------


def sse_events(raw: bytes) -> list[tuple[str, dict]]:
    out = []
    for frame in raw.split(b"\n\n"):
        if not frame.strip():
            continue
        lines = dict(line.split(b": ", 1) for line in frame.split(b"\n"))
        out.append((lines[b"event"].decode(), orjson.loads(lines[b"data"])))
    return out


def test_stream_parser_on_a_recorded_tool_stream() -> None:
    parser = astream.StreamParser("p")
    events = [e for _, data in sse_events(load_fixture("anthropic_stream_tools.sse")) for e in parser.feed(data)]
    events.append(parser.end())
    assert isinstance(events[0], StreamStart) and events[0].id == "msg_01"
    response = collect_stream(events)
    assert response.content == [ThinkingPart(text="I should look both up.", signature="c2ln", signed_by="anthropic"),
                                TextPart(text="Let me check.")]
    assert [(c.id, c.name, orjson.loads(c.arguments)) for c in response.tool_calls] == [
        ("toolu_A", "get_weather", {"city": "Paris", "unit": "c"}),
        ("toolu_B", "get_time", {"tz": "Europe/Paris"}),
    ]
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(input_tokens=472, output_tokens=89, cache_read_tokens=400, cache_write_tokens=0)
    fragments = [e for e in events if isinstance(e, ToolCallDelta)]
    assert len(fragments) > 4  # the arguments arrive in pieces and are passed on in pieces


def test_stream_parser_raises_on_error_event() -> None:
    parser = astream.StreamParser("anth")
    parser.feed({"type": "message_start", "message": {"id": "m", "model": "c", "usage": {"input_tokens": 1}}})
    with pytest.raises(UpstreamError) as caught:
        parser.feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert caught.value.status == 529 and caught.value.retryable and caught.value.provider == "anth"


def test_stream_encoder_emits_the_real_event_sequence() -> None:
    encoder = astream.StreamEncoder()
    domain_events = [
        StreamStart(id="chatcmpl-1", model="gpt", usage=None),
        ThinkingDelta(text="hmm"), ThinkingDelta(signature="sig", signed_by="anthropic"),
        ThinkingDelta(signature="gemini-sig", signed_by="gemini"),  # would not verify at Anthropic: dropped
        TextDelta(text="Hel"), TextDelta(text="lo"),
        ToolCallStart(index=0, id="call_1", name="f"), ToolCallDelta(index=0, arguments='{"a"'),
        ToolCallDelta(index=0, arguments=":1}"),
        ToolCallStart(index=1, id="call_2", name="g"), ToolCallDelta(index=1, arguments="{}"),
        StreamEnd(finish_reason="tool_calls", usage=Usage(input_tokens=9, output_tokens=4, cache_read_tokens=2)),
    ]
    raw = b"".join(encoder.encode(e) for e in domain_events)
    assert b"[DONE]" not in raw
    events = sse_events(raw)
    names = [name for name, _ in events]
    assert names == ["message_start", "content_block_start", "ping", "content_block_delta", "content_block_delta",
                     "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "content_block_start", "content_block_delta", "content_block_stop",
                     "message_delta", "message_stop"]
    assert all(data["type"] == name for name, data in events)
    assert events[0][1]["message"]["id"] == "msg_chatcmpl-1"
    deltas = [data["delta"]["type"] for name, data in events if name == "content_block_delta"]
    assert deltas == ["thinking_delta", "signature_delta", "text_delta", "text_delta", "input_json_delta",
                      "input_json_delta", "input_json_delta"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
    assert events[-2][1]["usage"]["input_tokens"] == 7 and events[-2][1]["usage"]["cache_read_input_tokens"] == 2
    # Re-reading our own output gives the same conversation back.
    parser = astream.StreamParser()
    back = [e for _, data in events for e in parser.feed(data)] + [parser.end()]
    response = collect_stream(back)
    assert response.text() == "Hello"
    assert [(c.id, c.arguments) for c in response.tool_calls] == [("call_1", '{"a":1}'), ("call_2", "{}")]


def test_stream_encoder_error_frame() -> None:
    frame = astream.StreamEncoder.error({"type": "error", "error": {"type": "api_error", "message": "boom"}})
    assert frame.startswith(b"event: error\ndata: ") and frame.endswith(b"\n\n")
    assert sse_events(frame)[0][1]["error"]["message"] == "boom"
