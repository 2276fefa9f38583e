"""The Responses API translation: request items → domain, domain → `response` and stream events.

Outputs are validated against the official openai SDK's own models, so a field the SDK needs and
we forget fails here, not in a client."""

from __future__ import annotations

import itertools

import orjson
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from adapters.wire.responses.request import hosted_choice_refused, parse_request
from adapters.wire.responses.response import encode_response, error_body, item_count
from adapters.wire.responses.stream import StreamEncoder, collected, sse
from domain.chat import (
    ChatResponse,
    ImagePart,
    StreamEnd,
    StreamStart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from domain.errors import InvalidRequest

EVENTS = TypeAdapter(ResponseStreamEvent)


def ids() -> itertools.count[int]:
    return itertools.count(1)


def new_id_factory():
    counter = ids()
    return lambda prefix: f"{prefix}_{next(counter)}"


def test_string_input_and_instructions():
    request, context = parse_request({"model": "gpt-4o", "input": "hi", "instructions": "be brief",
                                      "max_output_tokens": 50, "temperature": 0.2, "top_p": 0.9})
    assert request.model == "gpt-4o"
    assert [p.text for p in request.system] == ["be brief"]
    assert [(m.role, m.text()) for m in request.messages] == [("user", "hi")]
    assert (request.max_tokens, request.temperature, request.top_p) == (50, 0.2, 0.9)
    assert context.store is True and context.previous_response_id is None


def test_items_roles_parts_and_tool_round_trip():
    body = {
        "model": "m",
        "input": [
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "dev rules"}]},
            {"role": "system", "content": "sys"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "look"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"},
            ]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "calling"}]},
            {"type": "function_call", "call_id": "c1", "name": "read", "namespace": "fs", "arguments": '{"p":1}'},
            {"type": "function_call_output", "call_id": "c1", "output": "file body"},
        ],
        "tools": [{"type": "namespace", "name": "fs", "description": "files",
                   "tools": [{"type": "function", "name": "read", "parameters": {"type": "object"}}]}],
    }
    request, context = parse_request(body)
    assert [p.text for p in request.system] == ["dev rules", "sys"]
    user, assistant, tool = request.messages
    assert user.content[0] == TextPart(text="look")
    assert isinstance(user.content[1], ImagePart) and user.content[1].data == "AAAA"
    assert user.content[1].media_type == "image/png"
    assert assistant.text() == "calling"
    assert assistant.tool_calls == [ToolCall(id="c1", name="fs__read", arguments='{"p":1}')]
    assert (tool.role, tool.tool_call_id, tool.text()) == ("tool", "c1", "file body")
    assert [t.name for t in request.tools] == ["fs__read"]
    assert context.tools["fs__read"].namespace == "fs"


def test_hosted_tools_dropped_with_a_note_or_refused_when_required():
    body = {"input": "x", "tools": [{"type": "web_search"}, {"type": "function", "name": "f"}]}
    request, context = parse_request(body)
    assert [t.name for t in request.tools] == ["f"]
    assert context.dropped_tools == ["web_search"]
    assert "web_search" in context.notes()[0]
    _, required = parse_request({**body, "tool_choice": {"type": "web_search"}})
    assert required.required_hosted == "web_search"  # the route refuses it unless passed through
    assert hosted_choice_refused(required).param == "tool_choice"


def test_tool_choice_text_format_reasoning_and_flags():
    request, context = parse_request({
        "input": "x", "tools": [{"type": "function", "name": "f"}],
        "tool_choice": {"type": "function", "name": "f"}, "parallel_tool_calls": False,
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
        "reasoning": {"effort": "xhigh", "summary": "auto"}, "store": False,
        "include": ["reasoning.encrypted_content"], "previous_response_id": "resp_1",
        "metadata": {"k": "v"}, "prompt_cache_key": "pk",
    })
    assert (request.tool_choice.mode, request.tool_choice.name, request.tool_choice.parallel) == ("tool", "f", False)
    assert request.response_format.type == "json_schema" and request.response_format.schema == {"type": "object"}
    assert request.reasoning_effort == "high"
    assert request.metadata == {"k": "v"}
    assert context.store is False and context.wants_encrypted_reasoning
    assert context.previous_response_id == "resp_1"
    json_mode, _ = parse_request({"input": "x", "text": {"format": {"type": "json_object"}}})
    assert json_mode.response_format.type == "json_object"


@pytest.mark.parametrize("body, param", [
    ({"input": 3}, "input"),
    ({"input": "x", "temperature": 3}, "temperature"),
    ({"input": "x", "max_output_tokens": 0}, "max_output_tokens"),
    ({"input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
    ({"input": [{"type": "message", "role": "robot", "content": "x"}]}, "input[0].role"),
    ({"input": "x", "tool_choice": {"type": "function", "name": "missing"}}, "tool_choice"),
    ({"input": [{"type": "function_call_output", "output": "x"}]}, "input[0].call_id"),
    ({"input": []}, "input"),
])
def test_bad_input_names_the_parameter(body, param):
    with pytest.raises(InvalidRequest) as err:
        parse_request(body)
    assert err.value.param == param


def test_reasoning_signatures_go_back_only_to_their_issuer():
    anthropic = ThinkingPart(text="t", signature="sig", signed_by="anthropic")
    response = ChatResponse(id="x", model="m", content=[anthropic, TextPart(text="a")])
    _, context = parse_request({"input": "q", "include": ["reasoning.encrypted_content"]})
    out = encode_response(response, context, response_id="resp_1", created_at=1, item_ids=["rs_1", "msg_1"])
    encrypted = out["output"][0]["encrypted_content"]
    assert encrypted == "adaptive.anthropic.sig"
    request, _ = parse_request({"input": [{"role": "user", "content": "q"}, out["output"][0], out["output"][1]]})
    part = request.messages[1].content[0]
    assert (part.signature, part.signed_by) == ("sig", "anthropic")
    request, _ = parse_request({"input": [{"type": "reasoning", "summary": [], "encrypted_content": "gAAA"},
                                          {"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]})
    assert (request.messages[0].content[0].signed_by, request.messages[0].content[0].signature) == ("openai", "gAAA")
    _, no_include = parse_request({"input": "q"})
    plain = encode_response(response, no_include, response_id="r", created_at=1, item_ids=["rs_1", "msg_1"])
    assert "encrypted_content" not in plain["output"][0]


def test_response_object_is_what_the_sdk_parses():
    _, context = parse_request({"input": "q", "tools": [{"type": "namespace", "name": "fs", "description": "d",
                                                         "tools": [{"type": "function", "name": "read"}]}],
                                "metadata": {"a": "b"}})
    response = ChatResponse(id="up", model="m", content=[TextPart(text="hello")],
                            tool_calls=[ToolCall(id="c1", name="fs__read", arguments="{}")], finish_reason="tool_calls",
                            usage=Usage(input_tokens=10, output_tokens=5, cache_read_tokens=4, reasoning_tokens=2))
    body = encode_response(response, context, response_id="resp_1", created_at=7,
                           item_ids=[f"i{n}" for n in range(item_count(response))])
    parsed = Response.model_validate(body)
    assert parsed.output_text == "hello"
    assert parsed.status == "completed" and parsed.metadata == {"a": "b"}
    call = parsed.output[1]
    assert (call.type, call.name, call.namespace, call.call_id) == ("function_call", "read", "fs", "c1")
    assert parsed.usage.input_tokens_details.cached_tokens == 4
    assert parsed.usage.output_tokens_details.reasoning_tokens == 2
    assert parsed.usage.total_tokens == 15


def test_length_is_incomplete():
    _, context = parse_request({"input": "q"})
    body = encode_response(ChatResponse(id="x", model="m", content=[TextPart(text="cut")], finish_reason="length"),
                           context, response_id="r", created_at=1, item_ids=["m1"])
    parsed = Response.model_validate(body)
    assert parsed.status == "incomplete" and parsed.incomplete_details.reason == "max_output_tokens"


def run_stream(events, body=None):
    _, context = parse_request(body or {"input": "q"})
    encoder = StreamEncoder(context, response_id="resp_1", created_at=1, new_id=new_id_factory())
    out = [e for event in events for e in encoder.feed(event)]
    for event in out:
        EVENTS.validate_python(event)  # every event is one the SDK knows, with its required fields
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    return out


def test_stream_text_event_sequence():
    out = run_stream([StreamStart(id="u", model="m"), TextDelta(text="hel"), TextDelta(text="lo"),
                      StreamEnd(finish_reason="stop", usage=Usage(input_tokens=3, output_tokens=2))])
    assert [e["type"] for e in out] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta", "response.output_text.done",
        "response.content_part.done", "response.output_item.done", "response.completed",
    ]
    assert out[6]["text"] == "hello"
    final = Response.model_validate(out[-1]["response"])
    assert final.output_text == "hello" and final.usage.total_tokens == 5


def test_stream_reasoning_then_tool_call():
    out = run_stream([
        StreamStart(id="u", model="m"), ThinkingDelta(text="think"), ThinkingDelta(signature="s", signed_by="gemini"),
        ToolCallStart(index=0, id="c1", name="sh"), ToolCallDelta(index=0, arguments='{"cmd":'),
        ToolCallDelta(index=0, arguments='"ls"}'), StreamEnd(finish_reason="tool_calls"),
    ], {"input": "q", "include": ["reasoning.encrypted_content"], "tools": [{"type": "function", "name": "sh"}]})
    kinds = [e["type"] for e in out]
    assert kinds[2:] == [
        "response.output_item.added", "response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed",
    ]
    assert out[-3]["arguments"] == '{"cmd":"ls"}'
    final = Response.model_validate(out[-1]["response"])
    assert final.output[0].encrypted_content == "adaptive.gemini.s"
    assert final.output[1].arguments == '{"cmd":"ls"}'


def test_stream_incomplete_and_failed():
    out = run_stream([StreamStart(id="u", model="m"), TextDelta(text="x"), StreamEnd(finish_reason="length")])
    assert out[-1]["type"] == "response.incomplete"
    assert out[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    _, context = parse_request({"input": "q"})
    encoder = StreamEncoder(context, response_id="r", created_at=1, new_id=new_id_factory())
    failed = encoder.fail("server_error", "upstream broke")
    assert [e["type"] for e in failed] == ["response.created", "response.failed"]
    assert Response.model_validate(failed[-1]["response"]).error.message == "upstream broke"


def test_collected_replays_a_whole_response_and_sse_frames():
    response = ChatResponse(id="u", model="m", content=[TextPart(text="hi")],
                            tool_calls=[ToolCall(id="c", name="f", arguments="{}")], finish_reason="tool_calls")
    out = run_stream(collected(response), {"input": "q", "tools": [{"type": "function", "name": "f"}]})
    final = Response.model_validate(out[-1]["response"])
    assert final.output_text == "hi" and final.output[1].name == "f"
    frame = sse(out[0])
    assert frame.startswith(b"event: response.created\ndata: ") and orjson.loads(frame.split(b"data: ")[1])


def test_error_body_shape():
    assert error_body(400, "bad", param="input")["error"] == {
        "message": "bad", "type": "invalid_request_error", "param": "input", "code": None}
    assert error_body(429, "slow")["error"]["type"] == "rate_limit_error"


def test_codex_first_request_parses():
    """The request Codex 0.169 really sends first (recorded, texts shortened)."""
    from pathlib import Path

    recorded = Path(__file__).parents[1] / "agents" / "fixtures" / "codex_first_request.json"
    body = orjson.loads(recorded.read_bytes())["body"]
    request, context = parse_request(body)
    assert request.stream and not context.store and context.wants_encrypted_reasoning
    assert [m.role for m in request.messages] == ["user", "user"]
    assert "exec_command" in [t.name for t in request.tools]
    assert "multi_agent_v1__spawn_agent" in context.tools
    assert context.tools["multi_agent_v1__spawn_agent"].namespace == "multi_agent_v1"
    assert context.dropped_tools == ["web_search"]


def test_a_stored_conversation_continues_as_input_items():
    from adapters.wire.responses.conversation import document_for, history_of

    _, context = parse_request({"input": "What is 2+2?", "tools": [{"type": "function", "name": "calc"}]})
    answer = ChatResponse(id="u", model="m", tool_calls=[ToolCall(id="c1", name="calc", arguments='{"e":"2+2"}')],
                          finish_reason="tool_calls")
    body = encode_response(answer, context, response_id="resp_1", created_at=1, item_ids=["fc_1"])
    document = document_for(body, [], context.input_items)
    follow_up = {"previous_response_id": "resp_1", "tools": [{"type": "function", "name": "calc"}],
                 "input": [{"type": "function_call_output", "call_id": "c1", "output": "4"}]}
    request, _ = parse_request(follow_up, history_of(document, "resp_1"))
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert request.messages[1].tool_calls[0].id == "c1" and request.messages[2].text() == "4"
    with pytest.raises(InvalidRequest) as err:
        history_of(None, "resp_missing")
    assert err.value.param == "previous_response_id"
