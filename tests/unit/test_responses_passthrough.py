"""The Responses passthrough's wire pieces: what is forwarded, how the upstream's answer is read,
and how a relayed stream ends when it breaks."""

from __future__ import annotations

import pytest

from adapters.wire.responses.request import parse_request, passthrough_body
from adapters.wire.responses.stream import RelayEncoder, StreamEncoder
from adapters.wire.responses.upstream import StreamParser, parse_response, upstream_request
from application.settings import ProviderSettings
from domain.chat import RawEvent, StreamEnd, StreamStart, TextDelta, ToolCallDelta, ToolCallStart
from domain.errors import UpstreamError

USAGE = {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 7,
         "output_tokens_details": {"reasoning_tokens": 3}, "total_tokens": 19}


def test_responses_api_defaults_to_openais_own_url_only() -> None:
    assert ProviderSettings(kind="openai").has_responses_api
    assert ProviderSettings(kind="openai", base_url="https://api.openai.com/v1/").has_responses_api
    assert not ProviderSettings(kind="openai", base_url="http://127.0.0.1:11434/v1").has_responses_api
    assert ProviderSettings(kind="openai", base_url="http://vllm:8000/v1", responses_api=True).has_responses_api
    assert not ProviderSettings(kind="openai", responses_api=False).has_responses_api
    with pytest.raises(ValueError, match="responses_api"):
        ProviderSettings(kind="anthropic", responses_api=True)


def test_the_forwarded_body_carries_the_history_not_the_gateways_fields() -> None:
    history = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"id": "rs_1", "type": "reasoning", "summary": [], "encrypted_content": "adaptive.anthropic.sig"},
        {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "gAAAA-openai", "status": "completed"},
        {"id": "rs_3", "type": "reasoning", "summary": []},
        {"id": "msg_gw", "type": "message", "role": "assistant", "status": "completed",
         "content": [{"type": "output_text", "text": "hello"}]},
    ]
    body = {"model": "auto", "input": "again", "previous_response_id": "resp_1", "fallback": {"mode": "race"},
            "tools": [{"type": "web_search"}], "store": False}
    request, context = parse_request(body, history)
    assert request.raw_family == "responses" and request.raw is not None
    sent = upstream_request(request.raw, "gpt-5", stream=True)
    assert sent["model"] == "gpt-5" and sent["stream"] is True and sent["store"] is False
    assert "previous_response_id" not in sent and "fallback" not in sent
    assert sent["tools"] == [{"type": "web_search"}]
    assert sent["input"] == [
        history[0],
        {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "gAAAA-openai"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "hello"}]},
        *context.input_items,
    ]
    assert passthrough_body({"input": "x"}, [], []) == {"input": "x"}  # nothing stored: input as sent


def test_an_upstream_response_is_kept_whole_and_read_for_usage() -> None:
    payload = {"id": "resp_u", "model": "gpt-5", "status": "completed", "usage": USAGE, "output": [
        {"type": "message", "content": [{"type": "output_text", "text": "hi"}]},
        {"type": "function_call", "call_id": "c1", "name": "run", "namespace": "shell", "arguments": "{}"}]}
    response = parse_response(payload, "p")
    assert response.raw is payload and response.raw_family == "responses"
    assert response.text() == "hi" and response.finish_reason == "tool_calls"
    assert [c.name for c in response.tool_calls] == ["shell__run"]  # flattened like translated requests
    u = response.usage
    assert (u.input_tokens, u.cache_read_tokens, u.output_tokens, u.reasoning_tokens) == (12, 4, 7, 3)
    incomplete = parse_response({"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}})
    assert incomplete.finish_reason == "length"
    with pytest.raises(UpstreamError, match="boom"):
        parse_response({"status": "failed", "error": {"message": "boom"}}, "p")


def test_the_stream_parser_relays_every_event_and_reads_its_meaning() -> None:
    parser = StreamParser("p")
    events = [
        {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_u", "model": "gpt-5"}},
        {"type": "response.output_text.delta", "sequence_number": 1, "delta": "hi"},
        {"type": "response.output_item.added", "sequence_number": 2,
         "item": {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f"}},
        {"type": "response.function_call_arguments.delta", "sequence_number": 3, "item_id": "fc_1", "delta": "{}"},
        {"type": "response.completed", "sequence_number": 4, "response": {"id": "resp_u", "usage": USAGE,
                                                                          "output": [{"type": "function_call"}]}},
    ]
    out = [e for event in events for e in parser.feed(event)]
    assert [e.data for e in out if isinstance(e, RawEvent)] == events
    domain = [e for e in out if not isinstance(e, RawEvent)]
    assert domain == [StreamStart(id="resp_u", model="gpt-5", created=domain[0].created), TextDelta("hi"),
                      ToolCallStart(index=0, id="c1", name="f"), ToolCallDelta(index=0, arguments="{}")]
    end = parser.end()
    assert end.finish_reason == "tool_calls" and end.usage.input_tokens == 12 and parser.failed() is None
    parser.feed({"type": "error", "message": "overloaded"})
    failed = parser.failed()
    assert failed is not None and "overloaded" in failed.message


def test_a_relayed_stream_that_breaks_ends_with_response_failed_once() -> None:
    relay = RelayEncoder()
    created = {"type": "response.created", "sequence_number": 0, "response": {"id": "resp_u", "status": "x"}}
    assert relay.feed(RawEvent(created)) == [created]
    assert relay.feed(TextDelta("ignored")) == []  # domain events are not encoded by a relay
    failed = relay.fail("upstream", "cut")
    assert failed[0]["type"] == "response.failed" and failed[0]["sequence_number"] == 1
    assert failed[0]["response"]["id"] == "resp_u" and failed[0]["response"]["error"]["message"] == "cut"
    assert relay.fail("upstream", "again") == []
    done = RelayEncoder()
    done.feed(RawEvent({"type": "response.completed", "sequence_number": 5, "response": {"id": "r"}}))
    assert done.fail("upstream", "late") == [] and done.final(StreamEnd("stop")) == {"id": "r"}


def test_the_translating_encoder_ignores_raw_events() -> None:
    _, context = parse_request({"input": "x"})
    encoder = StreamEncoder(context, response_id="resp_1", created_at=0, new_id=lambda p: f"{p}_1")
    assert encoder.feed(RawEvent({"type": "response.created"})) == []
