"""The Responses API through the gateway, driven by the official openai SDK, against every
provider kind (the fake upstream behind a real gateway process): translated for the openai
(chat completions), anthropic and gemini kinds, passed through for `fake_responses`, an
openai-kind provider with `responses_api: true`."""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import UPSTREAM_KEY, FakeUpstream, three_provider_config

pytestmark = pytest.mark.e2e

PASSTHROUGH = "fake_responses:gpt-4o-mini"
MODELS = ["fake_openai:gpt-4o-mini", "fake_anthropic:claude-sonnet-4-5", "fake_gemini:gemini-2.5-flash",
          PASSTHROUGH]
UPSTREAM_PATHS = {
    PASSTHROUGH: ("/v1/responses",),
    "fake_openai:gpt-4o-mini": ("/v1/responses", "/v1/chat/completions"),
    "fake_anthropic:claude-sonnet-4-5": ("/v1/messages",),
    "fake_gemini:gemini-2.5-flash": ("/v1beta/models/gemini-2.5-flash:generateContent",
                                     "/v1beta/models/gemini-2.5-flash:streamGenerateContent"),
}
WEATHER = {"type": "function", "name": "get_weather", "description": "weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture(scope="module")
def gateway(start_gateway: Any, fake_upstream: str) -> str:
    config = three_provider_config(fake_upstream)
    config["providers"]["fake_responses"] = {
        "kind": "openai", "base_url": f"{fake_upstream}/v1", "api_key": UPSTREAM_KEY, "responses_api": True,
        "timeout_ms": 10_000, "models": {"gpt-4o-mini": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}
    return start_gateway(config)


@pytest.fixture
def sdk(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="any", max_retries=0, timeout=20)


@pytest.mark.parametrize("model", MODELS)
def test_create(sdk: openai.OpenAI, fake: FakeUpstream, model: str) -> None:
    raw = sdk.responses.with_raw_response.create(model=model, input="hello gateway", instructions="be brief",
                                                 max_output_tokens=50)
    response = raw.parse()
    assert response.output_text == "Fake reply to: hello gateway"
    assert response.status == "completed" and response.id.startswith("resp_")
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert raw.headers["x-adaptive-provider"] == model.split(":")[0]
    assert raw.headers["x-adaptive-selection"] == "manual_override"
    assert set(fake.stats()["by_path"]) <= set(UPSTREAM_PATHS[model])


@pytest.mark.parametrize("model", MODELS)
def test_stream(sdk: openai.OpenAI, model: str) -> None:
    with sdk.responses.stream(model=model, input="stream me please") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.completed"
    assert final.output_text == "Fake reply to: stream me please"
    assert sdk.responses.retrieve(final.id).output_text == final.output_text  # kept once the stream ended


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_round_trip(sdk: openai.OpenAI, model: str, stream: bool) -> None:
    def create(**kwargs: Any) -> Any:
        if not stream:
            return sdk.responses.create(model=model, tools=[WEATHER], **kwargs)
        with sdk.responses.stream(model=model, tools=[WEATHER], **kwargs) as events:
            for _ in events:
                pass
            return events.get_final_response()

    first = create(input="weather in Paris?")
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "example"}
    second = create(input=[
        {"role": "user", "content": "weather in Paris?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"},
    ])
    assert second.output_text == "Tool result received: sunny, 21C"


def _create(sdk: openai.OpenAI, stream: bool, **kwargs: Any) -> Any:
    if not stream:
        return sdk.responses.create(**kwargs)
    with sdk.responses.stream(**kwargs) as events:
        for _ in events:
            pass
        return events.get_final_response()


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_previous_response_id_continues_on_any_provider(sdk: openai.OpenAI, fake: FakeUpstream, model: str,
                                                        stream: bool) -> None:
    first = _create(sdk, stream, model="fake_openai:gpt-4o-mini", input="remember the word tangerine", store=True)
    second = _create(sdk, stream, model=model, input="which word?", previous_response_id=first.id)
    assert second.output_text == "Fake reply to: which word?"
    sent = json.dumps(fake.last_request["body"])
    assert "remember the word tangerine" in sent and first.output_text in sent  # the history went upstream
    assert sdk.responses.retrieve(second.id).output_text == second.output_text
    assert sdk.responses.delete(second.id) is None
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(second.id)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
def test_tool_output_continues_from_previous_response_id(sdk: openai.OpenAI, model: str, stream: bool) -> None:
    """How Codex and the Agents SDK send tool results: only the output, after the stored call."""
    first = _create(sdk, stream, model=model, tools=[WEATHER], input="weather in Paris?")
    call = next(item for item in first.output if item.type == "function_call")
    second = _create(sdk, stream, model=model, tools=[WEATHER], previous_response_id=first.id, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 21C"}])
    assert second.output_text == "Tool result received: sunny, 21C"


def test_store_false_keeps_nothing(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(model="fake_gemini:gemini-2.5-flash", input="forget me", store=False)
    with pytest.raises(openai.NotFoundError):
        sdk.responses.retrieve(response.id)
    with pytest.raises(openai.BadRequestError) as err:
        sdk.responses.create(model="fake_gemini:gemini-2.5-flash", input="x", previous_response_id=response.id)
    assert err.value.body["param"] == "previous_response_id"


def test_router_and_bad_input(sdk: openai.OpenAI, gateway: str) -> None:
    raw = sdk.responses.with_raw_response.create(model="auto", input="route me")
    assert raw.headers["x-adaptive-selection"] in ("router", "cache_exact")
    with pytest.raises(openai.BadRequestError) as err:
        sdk.responses.create(model="auto", input="x", temperature=9)
    assert err.value.body["param"] == "temperature"
    reply = httpx.post(f"{gateway}/v1/responses", content=b"{not json", timeout=10,
                       headers={"content-type": "application/json"})
    assert reply.status_code == 400 and reply.json()["error"]["type"] == "invalid_request_error"


def test_hosted_tools_dropped_with_a_note_or_refused(sdk: openai.OpenAI) -> None:
    raw = sdk.responses.with_raw_response.create(model="fake_anthropic:claude-sonnet-4-5", input="search",
                                                 tools=[{"type": "web_search"}])
    assert "web_search" in raw.headers.get("x-adaptive-notes", "")
    assert raw.parse().output_text == "Fake reply to: search"
    with pytest.raises(openai.BadRequestError) as err:
        sdk.responses.create(model="fake_anthropic:claude-sonnet-4-5", input="search",
                             tools=[{"type": "web_search"}], tool_choice={"type": "web_search"})
    assert err.value.body["param"] == "tool_choice"


# --- the passthrough path (fake_responses: responses_api: true) -------------------------------


def test_passthrough_forwards_the_body_and_returns_the_upstreams_object(sdk: openai.OpenAI,
                                                                       fake: FakeUpstream) -> None:
    raw = sdk.responses.with_raw_response.create(
        model=PASSTHROUGH, input="search the web", tools=[{"type": "web_search"}, WEATHER],
        metadata={"team": "a"}, extra_body={"fallback": {"mode": "sequential"}})
    response = raw.parse()
    assert response.id.startswith("resp_fake_")  # the upstream's own id and object, relayed
    assert "x-adaptive-notes" not in raw.headers  # nothing dropped: the provider runs hosted tools
    assert raw.headers["x-adaptive-provider"] == "fake_responses"
    sent = fake.last_request
    assert sent["path"] == "/v1/responses"
    body = sent["body"]
    assert body["model"] == "gpt-4o-mini" and body["stream"] is False and body["metadata"] == {"team": "a"}
    assert [t["type"] for t in body["tools"]] == ["web_search", "function"]
    assert "fallback" not in body and "previous_response_id" not in body
    assert sdk.responses.retrieve(response.id).output_text == response.output_text


def test_passthrough_stream_relays_the_upstreams_events(sdk: openai.OpenAI, fake: FakeUpstream) -> None:
    with sdk.responses.stream(model=PASSTHROUGH, input="relay me", tools=[{"type": "web_search"}]) as stream:
        events = list(stream)
        final = stream.get_final_response()
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert deltas and all(e.item_id == "msg_fake_1" for e in deltas)  # the upstream's item ids
    assert final.id.startswith("resp_fake_") and final.output_text == "Fake reply to: relay me"
    assert fake.last_request["body"]["stream"] is True
    assert sdk.responses.retrieve(final.id).output_text == final.output_text


@pytest.mark.parametrize("first,second", [(PASSTHROUGH, "fake_anthropic:claude-sonnet-4-5"),
                                          ("fake_gemini:gemini-2.5-flash", PASSTHROUGH)])
def test_passthrough_conversations_continue_across_kinds(sdk: openai.OpenAI, fake: FakeUpstream,
                                                         first: str, second: str) -> None:
    with sdk.responses.stream(model=first, input="remember the word tangerine") as stream:
        for _ in stream:
            pass
        opening = stream.get_final_response()
    with sdk.responses.stream(model=second, input="which word?", previous_response_id=opening.id) as stream:
        for _ in stream:
            pass
        reply = stream.get_final_response()
    assert reply.output_text == "Fake reply to: which word?"
    body = fake.last_request["body"]
    assert "remember the word tangerine" in json.dumps(body) and opening.output_text in json.dumps(body)
    if second == PASSTHROUGH:  # the gateway's history goes as input items, not as an id upstream
        assert "previous_response_id" not in body and body["input"][-1]["content"] == [
            {"type": "input_text", "text": "which word?"}]


def test_passthrough_falls_back_before_the_first_byte(sdk: openai.OpenAI, fake: FakeUpstream) -> None:
    for stream in (False, True):
        fake.script({"status": 503})  # the passthrough provider's answer; the next candidate is healthy
        raw = sdk.responses.with_raw_response.create(
            model=PASSTHROUGH, input="fall back", stream=stream,
            extra_body={"fallback": {"mode": "sequential", "max_retries": 0}})
        assert raw.headers["x-adaptive-provider"] != "fake_responses"
        if stream:
            assert "response.completed" in raw.http_response.read().decode()
        else:
            assert raw.parse().output_text == "Fake reply to: fall back"



def test_codex_first_request_passes_through_whole(gateway: str, fake: FakeUpstream) -> None:
    from tests.agents.test_recorded_requests import recorded

    codex = recorded("codex")["body"]
    reply = httpx.post(f"{gateway}/v1/responses", json={**codex, "model": PASSTHROUGH}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert b"response.completed" in reply.content and "x-adaptive-notes" not in reply.headers
    sent = fake.last_request["body"]
    assert sent["tools"] == codex["tools"] and sent["include"] == codex["include"]  # namespace, web_search kept
    assert sent["input"] == codex["input"] and sent["model"] == "gpt-4o-mini"


def test_passthrough_stream_cut_midway_ends_with_response_failed(gateway: str, fake: FakeUpstream) -> None:
    fake.script({"cut_after": 2})  # the upstream drops the connection after two deltas
    reply = httpx.post(f"{gateway}/v1/responses", timeout=30,
                       json={"model": PASSTHROUGH, "input": "a long answer that will be cut", "stream": True})
    events = [json.loads(line[6:]) for line in reply.text.splitlines() if line.startswith("data: ")]
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.failed"
    assert events[-1]["sequence_number"] == events[-2]["sequence_number"] + 1  # continues the upstream's numbering
    assert events[-1]["response"]["id"] == events[0]["response"]["id"]
    assert sum(e["type"] == "response.failed" for e in events) == 1


def test_a_required_hosted_tool_is_taken_only_by_a_pinned_passthrough(sdk: openai.OpenAI, fake: FakeUpstream) -> None:
    ask: dict[str, Any] = {"input": "search", "tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}}
    assert sdk.responses.create(model=PASSTHROUGH, **ask).status == "completed"
    assert fake.last_request["body"]["tool_choice"] == {"type": "web_search"}
    for refused in ({"model": "auto"}, {"model": PASSTHROUGH, "extra_body": {"fallback": {"mode": "sequential"}}}):
        with pytest.raises(openai.BadRequestError) as err:  # it could end up translated: hosted tool lost
            sdk.responses.create(**ask, **refused)
        assert err.value.body["param"] == "tool_choice"
