"""Gemini wire format <-> domain: requests (camelCase and snake_case), schemas, responses, chunks."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from adapters.wire.anthropic import stream as anthropic_stream
from adapters.wire.gemini import request as greq
from adapters.wire.gemini import response as gresp
from adapters.wire.gemini import stream as gstream
from adapters.wire.gemini import upstream as gbody
from adapters.wire.json_schema import from_gemini, to_gemini
from adapters.wire.openai import stream as openai_stream
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

# --- inbound requests ------------------------------------------------------------------------


def test_parse_sdk_camel_case_conversation() -> None:
    body = {
        "contents": [
            {"role": "user", "parts": [{"text": "What is this?"},
                                       {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                                       {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/a.jpg"}},
                                       {"inlineData": {"mimeType": "audio/wav", "data": "UklG"}}]},
            {"role": "model", "parts": [{"text": "thinking...", "thought": True},
                                        {"functionCall": {"name": "look", "args": {"q": "cat"}},
                                         "thoughtSignature": "CpQB"},
                                        {"functionCall": {"name": "look", "args": {"q": "dog"}}},
                                        {"functionCall": {"id": "own-id", "name": "size", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "look", "response": {"result": "a cat"}}},
                {"functionResponse": {"id": "own-id", "name": "size", "response": {"w": 3}}},
                {"functionResponse": {"name": "look", "response": {"output": "a dog"}}},
            ]},
        ],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "tools": [{"functionDeclarations": [{"name": "look", "description": "Look", "parameters": {
            "type": "OBJECT", "properties": {"q": {"type": "STRING", "nullable": True}}, "required": ["q"]}}]},
            {"googleSearch": {}}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["look"]}},
        "generationConfig": {"maxOutputTokens": 100, "temperature": 1.5, "topP": 0.9, "topK": 20,
                             "stopSequences": ["END"], "seed": 3, "responseMimeType": "application/json",
                             "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": True}},
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    }
    req = greq.parse_request(body, "gemini-2.5-flash", stream=True)
    assert req.model == "gemini-2.5-flash" and req.stream and req.raw_family == "gemini"
    assert req.system == [TextPart(text="Be brief.")]
    user, model, r1, r2, r3 = req.messages
    assert user.content[1:] == [ImagePart(data="iVBO", media_type="image/png"),
                                ImagePart(url="https://x.test/a.jpg", media_type="image/jpeg")]
    assert model.content == [ThinkingPart(text="thinking...")]  # signatures only mean something to Gemini
    ids = [c.id for c in model.tool_calls]
    assert ids[2] == "own-id" and len(set(ids)) == 3
    # Responses pair with the earliest unanswered call of the same name, or their own id.
    assert [(r.tool_call_id, r.name, r.text()) for r in (r1, r2, r3)] == [
        (ids[0], "look", "a cat"), ("own-id", "size", '{"w":3}'), (ids[1], "look", "a dog")]
    assert req.tools == [Tool(name="look", description="Look", parameters={
        "type": "object", "properties": {"q": {"type": ["string", "null"]}}, "required": ["q"]})]
    assert req.tool_choice == ToolChoice(mode="tool", name="look")
    assert (req.max_tokens, req.temperature, req.top_p, req.top_k, req.stop, req.seed) == (
        100, 1.5, 0.9, 20, ["END"], 3)
    assert req.response_format == ResponseFormat(type="json_object")
    assert req.thinking_budget == 2048 and req.reasoning_effort == "low"


def test_parse_snake_case_and_shorthands() -> None:
    body = {"contents": {"parts": [{"text": "hi"}]}, "system_instruction": "sys",
            "generation_config": {"max_output_tokens": 5, "response_mime_type": "application/json",
                                  "response_schema": {"type": "OBJECT", "properties": {"a": {"type": "INTEGER"}}}},
            "tool_config": {"function_calling_config": {"mode": "NONE"}}}
    req = greq.parse_request(body, "m", stream=False)
    assert req.messages == [Message(role="user", content=[TextPart(text="hi")])]
    assert req.system == [TextPart(text="sys")] and req.max_tokens == 5
    assert req.response_format == ResponseFormat(type="json_schema", schema={
        "type": "object", "properties": {"a": {"type": "integer"}}})
    assert req.tool_choice == ToolChoice(mode="none")


@pytest.mark.parametrize(("body", "param"), [
    ({"contents": []}, "contents"),
    ({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}, "contents[0].role"),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": 3}},
     "generationConfig.temperature"),
    ({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": -1}},
     "generationConfig.maxOutputTokens"),
])
def test_parse_rejects_invalid_fields(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        greq.parse_request(body, "m", stream=False)
    assert caught.value.param == param


# --- JSON Schema cleaning --------------------------------------------------------------------


def test_schema_cleaned_for_gemini() -> None:
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "when": {"type": "string", "format": "date-time", "default": "now", "examples": ["x"]},
            "site": {"type": "string", "format": "uri"},
            "count": {"type": ["integer", "null"], "minimum": 0, "exclusiveMaximum": 10},
            "mode": {"const": "fast"},
            "level": {"enum": [1, 2, 3], "type": "integer"},
            "pick": {"oneOf": [{"type": "string"}, {"type": "number"}]},
            "maybe": {"anyOf": [{"$ref": "#/$defs/Item"}, {"type": "null"}], "description": "opt"},
            "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}},
            "tree": {"$ref": "#/$defs/Node"},
        },
        "required": ["when", "ghost"],
        "$defs": {
            "Item": {"type": "object", "properties": {"name": {"type": "string"}}, "additionalProperties": False},
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}},
        },
        "allOf": [{"properties": {"extra": {"type": "boolean"}}}],
    }
    out = to_gemini(schema)
    text = orjson.dumps(out).decode()
    for banned in ("$schema", "additionalProperties", "$ref", "$defs", "default", "examples", "exclusiveMaximum",
                   "oneOf", "allOf", "const", '"uri"'):
        assert banned not in text, banned
    props = out["properties"]
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["site"] == {"type": "string"}
    assert props["count"] == {"type": "integer", "nullable": True, "minimum": 0}
    assert props["mode"] == {"enum": ["fast"], "type": "string"}
    assert props["level"] == {"type": "integer"}  # Gemini enums are strings only
    assert props["pick"] == {"anyOf": [{"type": "string"}, {"type": "number"}]}
    assert props["maybe"] == {"type": "object", "properties": {"name": {"type": "string"}}, "nullable": True,
                              "description": "opt"}
    assert props["items"]["items"] == {"type": "object", "properties": {"name": {"type": "string"}}}
    assert props["tree"]["properties"]["child"]["type"] == "object"  # recursion cut, not infinite
    assert props["extra"] == {"type": "boolean"}
    assert out["required"] == ["when"]


def test_schema_from_gemini() -> None:
    assert from_gemini({"type": "OBJECT", "propertyOrdering": ["a"], "properties": {
        "a": {"type": "STRING", "format": "enum", "enum": ["x"]},
        "b": {"type": "ARRAY", "items": {"type": "NUMBER"}, "min_items": 1},
        "c": {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}}}) == {
        "type": "object", "properties": {
            "a": {"type": "string", "enum": ["x"]},
            "b": {"type": "array", "items": {"type": "number"}, "minItems": 1},
            "c": {"anyOf": [{"type": "string"}, {"type": "integer"}]}}}


# --- outbound requests -----------------------------------------------------------------------


def test_passthrough_strips_gateway_and_url_fields() -> None:
    body = {"model": "models/x", "contents": [{"parts": [{"text": "hi"}]}], "cachedContent": "c/1",
            "fallback": {"mode": "off"}, "stream": True}
    out = gbody.build_request(greq.parse_request(body, "x", stream=False))
    assert out == {"contents": [{"parts": [{"text": "hi"}]}], "cachedContent": "c/1"}


def test_translated_from_openai() -> None:
    openai_body = {
        "model": "any",
        "messages": [
            {"role": "system", "content": "Rule."},
            {"role": "user", "content": [{"type": "text", "text": "Look"},
                                         {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklG"}},
                                         {"type": "image_url", "image_url": {"url": "https://x.test/p.png?s=1"}}]},
            {"role": "assistant", "content": "Sure.", "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
                {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "[1]"}}]},
            {"role": "tool", "tool_call_id": "call_a", "content": '{"ok": true}'},
            {"role": "tool", "tool_call_id": "call_b", "content": "plain text"},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "description": "F", "parameters": {
                "type": "object", "properties": {"x": {"type": "integer", "default": 0}},
                "additionalProperties": False}}},
            {"type": "function", "function": {"name": "g", "parameters": {"type": "object", "properties": {}}}},
        ],
        "tool_choice": "required",
        "max_tokens": 50, "temperature": 0.2, "top_p": 0.5, "stop": ["a", "b", "c", "d", "e", "f"], "seed": 1,
        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {
            "type": "object", "properties": {"v": {"type": "string"}}, "additionalProperties": False}}},
        "reasoning_effort": "low",
    }
    out = gbody.build_request(parse_openai(openai_body))
    assert out["systemInstruction"] == {"parts": [{"text": "Rule."}]}
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Look"}, {"inlineData": {"mimeType": "image/webp", "data": "UklG"}},
                                   {"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/p.png?s=1"}}]},
        {"role": "model", "parts": [{"text": "Sure."},
                                    {"functionCall": {"id": "call_a", "name": "f", "args": {"x": 1}}},
                                    {"functionCall": {"id": "call_b", "name": "g", "args": {"value": [1]}}}]},
        {"role": "user", "parts": [
            {"functionResponse": {"name": "f", "response": {"ok": True}, "id": "call_a"}},
            {"functionResponse": {"name": "g", "response": {"result": "plain text"}, "id": "call_b"}}]},
    ]
    assert out["tools"] == [{"functionDeclarations": [
        {"name": "f", "description": "F", "parameters": {"type": "object", "properties": {"x": {"type": "integer"}}}},
        {"name": "g"}]}]
    assert out["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    config = out["generationConfig"]
    assert config["maxOutputTokens"] == 50 and config["temperature"] == 0.2 and config["topP"] == 0.5
    assert config["stopSequences"] == ["a", "b", "c", "d", "e"] and config["seed"] == 1
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {"type": "object", "properties": {"v": {"type": "string"}}}
    assert config["thinkingConfig"] == {"thinkingBudget": 2048, "includeThoughts": True}


def test_tool_choice_modes() -> None:
    base = ChatRequest(model="m", messages=[Message(role="user", content=[TextPart(text="x")])],
                       tools=[Tool(name="f")])
    for choice, expected in [(ToolChoice(mode="auto"), {"mode": "AUTO"}), (ToolChoice(mode="none"), {"mode": "NONE"}),
                             (ToolChoice(mode="tool", name="f"), {"mode": "ANY", "allowedFunctionNames": ["f"]})]:
        base.tool_choice = choice
        assert gbody.build_request(base)["toolConfig"] == {"functionCallingConfig": expected}


def test_cache_control_and_unsigned_thinking_are_dropped() -> None:
    req = ChatRequest(model="m", messages=[
        Message(role="user", content=[TextPart(text="doc", cache_control={"type": "ephemeral"})]),
        Message(role="assistant", content=[ThinkingPart(text="t", signature="anthropic-sig"), TextPart(text="a")])])
    assert gbody.build_request(req)["contents"] == [{"role": "user", "parts": [{"text": "doc"}]},
                                                   {"role": "model", "parts": [{"text": "a"}]}]


def test_n_greater_than_one_is_a_clear_400() -> None:
    with pytest.raises(InvalidRequest):
        gbody.build_request(ChatRequest(model="m", messages=[Message(role="user")], n=3))


def test_count_body_wraps_the_generate_request() -> None:
    req = greq.parse_request({"contents": [{"parts": [{"text": "hi"}]}], "generationConfig": {"topK": 3}}, "g",
                             stream=False)
    assert gbody.count_body(req, "g") == {"generateContentRequest": {
        "model": "models/g", "contents": [{"parts": [{"text": "hi"}]}]}}


# --- responses -------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "calls", "finish"), [
    ("STOP", False, "stop"), ("STOP", True, "tool_calls"), ("MAX_TOKENS", False, "length"),
    ("SAFETY", False, "content_filter"), ("RECITATION", False, "content_filter"),
    ("PROHIBITED_CONTENT", False, "content_filter"), ("OTHER", False, "stop")])
def test_parse_finish_reasons(reason: str, calls: bool, finish: str) -> None:
    parts = [{"functionCall": {"name": "f", "args": {}}}] if calls else [{"text": "x"}]
    body = {"candidates": [{"content": {"parts": parts}, "finishReason": reason}]}
    assert gresp.parse_response(body).finish_reason == finish


def test_parse_blocked_prompt_is_content_filter() -> None:
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 4}}
    resp = gresp.parse_response(body)
    assert resp.finish_reason == "content_filter" and resp.usage.input_tokens == 4


def test_parse_response_parts_and_usage() -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [
        {"text": "plan", "thought": True}, {"text": "Hel"}, {"text": "lo"},
        {"functionCall": {"name": "f", "args": {"a": 1}}}, {"functionCall": {"id": "c2", "name": "g", "args": {}}}]},
        "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 10, "thoughtsTokenCount": 5,
                          "cachedContentTokenCount": 60, "totalTokenCount": 115},
        "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    resp = gresp.parse_response(body)
    assert resp.content == [ThinkingPart(text="plan"), TextPart(text="Hello")]
    assert resp.tool_calls[0].name == "f" and resp.tool_calls[0].id.startswith("call_")
    assert resp.tool_calls[1] == ToolCall("c2", "g", "{}")
    assert resp.usage == Usage(input_tokens=100, output_tokens=15, cache_read_tokens=60, reasoning_tokens=5)
    assert resp.finish_reason == "tool_calls" and resp.id == "r1" and resp.model == "gemini-2.5-flash"
    assert gresp.encode_response(resp, "g") == {**body, "provider": "g"}  # the upstream body, naming the provider


def test_encode_response_from_another_family() -> None:
    resp = ChatResponse(id="msg_1", model="claude", content=[ThinkingPart(text="t", signature="s"),
                                                            TextPart(text="hi")],
                        tool_calls=[ToolCall("toolu_1", "f", '{"a":1}')], finish_reason="tool_calls",
                        usage=Usage(input_tokens=30, output_tokens=12, cache_read_tokens=20, reasoning_tokens=4))
    out = gresp.encode_response(resp)
    assert out["candidates"] == [{"index": 0, "content": {"role": "model", "parts": [
        {"text": "t", "thought": True}, {"text": "hi"},
        {"functionCall": {"id": "toolu_1", "name": "f", "args": {"a": 1}}}]}, "finishReason": "STOP"}]
    assert out["usageMetadata"] == {"promptTokenCount": 30, "candidatesTokenCount": 8, "totalTokenCount": 42,
                                    "cachedContentTokenCount": 20, "thoughtsTokenCount": 4}
    assert out["modelVersion"] == "claude" and out["responseId"] == "msg_1"


@pytest.mark.parametrize(("finish", "reason"), [("stop", "STOP"), ("length", "MAX_TOKENS"),
                                                ("tool_calls", "STOP"), ("content_filter", "SAFETY")])
def test_encode_finish_reasons(finish: str, reason: str) -> None:
    out = gresp.encode_response(ChatResponse(id="x", model="m", finish_reason=finish))
    assert out["candidates"][0]["finishReason"] == reason


# --- streams ---------------------------------------------------------------------------------


def sse_chunks(raw: bytes) -> list[dict]:
    return [orjson.loads(frame.removeprefix(b"data: ")) for frame in raw.split(b"\r\n\r\n") if frame.strip()]


def test_stream_parser_on_a_recorded_stream() -> None:
    parser = gstream.StreamParser("g")
    raw = (FIXTURES / "gemini_stream_tools.sse").read_bytes()
    events = [e for chunk in sse_chunks(raw) for e in parser.feed(chunk)]
    events.append(parser.end())
    assert isinstance(events[0], StreamStart) and events[0].id == "resp-1"
    response = collect_stream(events)
    assert response.content == [ThinkingPart(text="I should look both up.", signature="CpQB", signed_by="gemini"),
                                TextPart(text="Let me check.")]
    assert [(c.name, orjson.loads(c.arguments)) for c in response.tool_calls] == [
        ("get_weather", {"city": "Paris", "unit": "c"}), ("get_time", {"tz": "Europe/Paris"})]
    assert response.finish_reason == "tool_calls"
    assert response.usage == Usage(input_tokens=472, output_tokens=89, cache_read_tokens=400, reasoning_tokens=9)


def test_stream_parser_raises_on_error_chunk() -> None:
    parser = gstream.StreamParser("g")
    with pytest.raises(UpstreamError) as caught:
        parser.feed({"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}})
    assert caught.value.status == 503 and caught.value.retryable


def _encode_all(encoder: gstream.StreamEncoder) -> bytes:
    events = [
        StreamStart(id="chatcmpl-1", model="gpt"), ThinkingDelta(text="hmm"), ThinkingDelta(signature="sig"),
        TextDelta(text="Hel"), TextDelta(text="lo"),
        ToolCallStart(index=0, id="call_1", name="f"), ToolCallDelta(index=0, arguments='{"a"'),
        ToolCallDelta(index=0, arguments=":1}"),
        ToolCallStart(index=1, id="call_2", name="g"), ToolCallDelta(index=1, arguments="{}"),
        StreamEnd(finish_reason="tool_calls", usage=Usage(input_tokens=9, output_tokens=4)),
    ]
    return b"".join(encoder.encode(e) for e in events)


def test_stream_encoder_sse_chunks() -> None:
    chunks = sse_chunks(_encode_all(gstream.StreamEncoder(sse=True)))
    parts = [c["candidates"][0]["content"]["parts"] for c in chunks]
    assert parts == [[{"text": "hmm", "thought": True}], [{"text": "Hel"}], [{"text": "lo"}],
                     [{"functionCall": {"id": "call_1", "name": "f", "args": {"a": 1}}}],
                     [{"functionCall": {"id": "call_2", "name": "g", "args": {}}}]]
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert chunks[-1]["usageMetadata"] == {"promptTokenCount": 9, "candidatesTokenCount": 4, "totalTokenCount": 13}
    assert all(c["modelVersion"] == "gpt" and c["responseId"] == "chatcmpl-1" for c in chunks)


def test_stream_encoder_json_array_and_error() -> None:
    raw = _encode_all(gstream.StreamEncoder(sse=False))
    assert len(orjson.loads(raw)) == 5
    encoder = gstream.StreamEncoder(sse=False)
    encoder.encode(StreamStart(id="r", model="m"))
    cut = encoder.encode(TextDelta(text="partial")) + encoder.error({"error": {"code": 502, "message": "x",
                                                                                "status": "UNAVAILABLE"}})
    assert orjson.loads(cut)[-1]["error"]["code"] == 502
    frame = gstream.StreamEncoder(sse=True).error({"error": {"code": 502}})
    assert frame == b'data: {"error":{"code":502}}\r\n\r\n'


def test_thought_signatures_go_back_to_gemini_clients_only() -> None:
    parser = gstream.StreamParser("g")
    raw = (FIXTURES / "gemini_stream_tools.sse").read_bytes()
    events = [e for chunk in sse_chunks(raw) for e in parser.feed(chunk)] + [parser.end()]
    encoder = gstream.StreamEncoder(sse=True)
    parts = [p for c in sse_chunks(b"".join(encoder.encode(e) for e in events))
             for p in c["candidates"][0]["content"]["parts"]]
    signed = [p for p in parts if "thoughtSignature" in p]
    assert signed == [{"functionCall": {"id": signed[0]["functionCall"]["id"], "name": "get_weather",
                                        "args": {"city": "Paris", "unit": "c"}}, "thoughtSignature": "CpQB"}]
    anthropic_encoder = anthropic_stream.StreamEncoder()
    openai_encoder = openai_stream.StreamEncoder("p", include_usage=True)
    for encode in (anthropic_encoder.encode, openai_encoder.encode):
        assert b"CpQB" not in b"".join(encode(e) for e in events)
