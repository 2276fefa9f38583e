"""Response-cache keys: what must share an entry, what must never, and what is never cached."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from adapters.wire.anthropic import request as anthropic_request
from adapters.wire.codecs import residue
from adapters.wire.gemini import request as gemini_request
from adapters.wire.openai import request as openai_request
from application.response_cache import cache_directives
from domain.cache_key import (
    KeyContext,
    exact_key,
    semantic_bucket,
    semantic_text,
    storable,
    uncacheable_reason,
)
from domain.chat import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    ToolChoice,
)

CTX = KeyContext(target=["manual", "openai:gpt-4o-mini"])


def request(**changes: Any) -> ChatRequest:
    base = ChatRequest(model="openai:gpt-4o-mini", messages=[Message(role="user", content=[TextPart("Hello there")])],
                       system=[TextPart("Be brief.")], max_tokens=64, temperature=0.0)
    return replace(base, **changes)


def key(req: ChatRequest, ctx: KeyContext = CTX) -> str:
    return exact_key(req, ctx)


# --- must share ------------------------------------------------------------------------------


@pytest.mark.parametrize("changes", [
    {"stream": True},
    {"include_usage": True},
    {"user": "end-user-42"},
    {"metadata": {"trace": "abc"}},
    {"raw": {"anything": 1}, "raw_family": "openai"},
    {"system": [TextPart("Be brief.", cache_control={"type": "ephemeral"})]},
], ids=lambda c: next(iter(c)))
def test_fields_that_never_change_the_answer_share_an_entry(changes: dict[str, Any]) -> None:
    assert key(request(**changes)) == key(request())


def test_the_key_is_a_stable_sha256() -> None:
    assert key(request()) == key(request())
    assert len(key(request())) == 64 and int(key(request()), 16) >= 0


def test_tool_call_ids_are_renumbered_so_random_ids_still_hit() -> None:
    def convo(call_id: str) -> ChatRequest:
        return request(messages=[
            Message(role="user", content=[TextPart("weather?")]),
            Message(role="assistant", tool_calls=[ToolCall(call_id, "weather", '{"city":"Paris"}')]),
            Message(role="tool", content=[TextPart("20C")], tool_call_id=call_id),
        ])

    assert key(convo("call_abc")) == key(convo("toolu_xyz"))


def test_the_same_conversation_through_three_families_shares_one_entry() -> None:
    text = "What is the capital of France?"
    openai = openai_request.parse_request({"model": "openai:gpt-4o-mini", "temperature": 0, "max_tokens": 50,
                                        "messages": [{"role": "system", "content": "Be brief."},
                                                     {"role": "user", "content": text}]})
    anthropic = anthropic_request.parse_request({"model": "openai:gpt-4o-mini", "temperature": 0,
                                                 "max_tokens": 50, "system": "Be brief.",
                                                 "messages": [{"role": "user", "content": text}]})
    gemini = gemini_request.parse_request({"systemInstruction": {"parts": [{"text": "Be brief."}]},
                                           "contents": [{"role": "user", "parts": [{"text": text}]}],
                                           "generationConfig": {"temperature": 0, "maxOutputTokens": 50}},
                                          "openai:gpt-4o-mini", stream=True)
    assert residue(openai) == residue(anthropic) == residue(gemini) == {}
    assert key(openai) == key(anthropic) == key(gemini)


# --- must not share --------------------------------------------------------------------------

DIFFERENT = {
    "model": {"model": "openai:gpt-4o"},  # the context's target carries it; see below
    "text": {"messages": [Message(role="user", content=[TextPart("Hello there!")])]},
    "role": {"messages": [Message(role="assistant", content=[TextPart("Hello there")])]},
    "name": {"messages": [Message(role="user", content=[TextPart("Hello there")], name="bob")]},
    "system": {"system": [TextPart("Be verbose.")]},
    "no system": {"system": []},
    "image": {"messages": [Message(role="user", content=[TextPart("Hello there"), ImagePart(url="https://x/a.png")])]},
    "other image": {"messages": [Message(role="user", content=[TextPart("Hello there"), ImagePart(url="https://x/b.png")])]},
    "thinking": {"messages": [Message(role="user", content=[TextPart("Hello there")]),
                              Message(role="assistant", content=[ThinkingPart("hm")])]},
    "tools": {"tools": [Tool("weather", "Get weather", {"type": "object"})]},
    "tool schema": {"tools": [Tool("weather", "Get weather", {"type": "object", "required": ["city"]})]},
    "tool choice": {"tool_choice": ToolChoice(mode="none")},
    "max_tokens": {"max_tokens": 65},
    "temperature": {"temperature": 0.5},
    "no temperature": {"temperature": None},
    "top_p": {"top_p": 0.9},
    "top_k": {"top_k": 5},
    "stop": {"stop": ["\n"]},
    "seed": {"seed": 7},
    "json": {"response_format": ResponseFormat(type="json_object")},
    "schema": {"response_format": ResponseFormat(type="json_schema", schema={"type": "object"})},
    "effort": {"reasoning_effort": "high"},
    "budget": {"thinking_budget": 2048},
}


@pytest.mark.parametrize("name", [n for n in DIFFERENT if n != "model"])
def test_every_answer_changing_field_is_in_the_key(name: str) -> None:
    assert key(request(**DIFFERENT[name])) != key(request())


def test_all_variants_have_distinct_keys() -> None:
    keys = {key(request(**c)) for n, c in DIFFERENT.items() if n != "model"}
    assert len(keys) == len(DIFFERENT) - 1


@pytest.mark.parametrize("other", [
    KeyContext(target=["manual", "openai:gpt-4o"]),
    KeyContext(target=["routed", ["openai"], True, 0.5, [], "", ""]),
    KeyContext(target=CTX.target, scope="org:acme"),
    KeyContext(target=CTX.target, namespace="other-config"),
    KeyContext(target=CTX.target, wire=["openai", {"frequency_penalty": 1.0}]),
], ids=["model", "routed", "scope", "namespace", "wire"])
def test_the_context_separates_entries(other: KeyContext) -> None:
    assert key(request(), other) != key(request())


def test_routing_inputs_separate_routed_entries() -> None:
    low = KeyContext(target=["routed", ["a", "b"], True, 0.2, [], "", ""])
    high = KeyContext(target=["routed", ["a", "b"], True, 0.8, [], "", ""])
    assert key(request(model=""), low) != key(request(model=""), high)


# --- semantic --------------------------------------------------------------------------------


def test_semantic_bucket_ignores_wording_but_not_parameters() -> None:
    reworded = request(messages=[Message(role="user", content=[TextPart("Hi there")])])
    assert semantic_bucket(reworded, CTX) == semantic_bucket(request(), CTX)
    assert semantic_bucket(request(max_tokens=10), CTX) != semantic_bucket(request(), CTX)
    two_turns = request(messages=[Message(role="user", content=[TextPart("a")]),
                                  Message(role="user", content=[TextPart("b")])])
    assert semantic_bucket(two_turns, CTX) != semantic_bucket(request(), CTX)


def test_semantic_text_covers_system_and_roles_and_refuses_tools_and_long_prompts() -> None:
    assert semantic_text(request(), 1000) == "system: Be brief.\nuser: Hello there"
    with_tools = request(messages=[Message(role="user", content=[TextPart("x")]),
                                   Message(role="tool", content=[TextPart("20C")], tool_call_id="c")])
    assert semantic_text(with_tools, 1000) is None
    assert semantic_text(request(), 10) is None


# --- what is never cached --------------------------------------------------------------------


def test_temperature_above_zero_needs_permission_and_n_is_never_cached() -> None:
    assert uncacheable_reason(request(temperature=0.7), allow_nonzero_temperature=False) == "temperature > 0"
    assert uncacheable_reason(request(temperature=0.7), allow_nonzero_temperature=True) is None
    assert uncacheable_reason(request(temperature=None), allow_nonzero_temperature=False) is None
    assert uncacheable_reason(request(n=2), allow_nonzero_temperature=True) == "n > 1"


def test_only_complete_tool_free_answers_are_stored() -> None:
    ok = ChatResponse(id="r", model="m", content=[TextPart("Paris")])
    assert storable(ok)
    assert storable(replace(ok, finish_reason="length"))
    assert not storable(replace(ok, finish_reason="content_filter"))
    assert not storable(replace(ok, finish_reason="tool_calls", tool_calls=[ToolCall("c", "f", "{}")]))
    assert not storable(replace(ok, tool_calls=[ToolCall("c", "f", "{}")]))
    assert not storable(replace(ok, content=[]))


@pytest.mark.parametrize(("header", "expected"), [
    (None, (True, True)), ("", (True, True)), ("no-cache", (False, True)), ("No-Store", (False, False)),
    ("max-age=0, no-cache", (False, True)), ("no-cache, no-store", (False, False)), ("max-age=60", (True, True)),
])
def test_cache_control_directives(header: str | None, expected: tuple[bool, bool]) -> None:
    assert cache_directives(header) == expected


# --- wire bodies: what the domain form cannot carry ------------------------------------------


def _openai(**extra: Any) -> ChatRequest:
    return openai_request.parse_request({"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra})


def test_openai_sampling_fields_outside_the_domain_join_the_key_and_shape_changes_are_not_cached() -> None:
    assert residue(_openai(frequency_penalty=0.5)) == {"frequency_penalty": 0.5}
    assert residue(_openai(logprobs=False, user="u", stream=True, prompt_cache={"enabled": True})) == {}
    assert residue(_openai(logprobs=True)) is None
    assert residue(_openai(modalities=["text", "audio"])) is None
    strict_tool = {"type": "function", "function": {"name": "f", "parameters": {}, "strict": True}}
    assert residue(_openai(tools=[strict_tool])) == {"tools": [strict_tool]}


def test_openai_content_the_domain_drops_is_never_cached() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "summarise"}, {"type": "file", "file": {"file_id": "file-1"}}]}]}
    assert residue(openai_request.parse_request(body)) is None
    late_system = {"model": "m", "messages": [{"role": "user", "content": "hi"},
                                              {"role": "system", "content": "now be rude"}]}
    assert residue(openai_request.parse_request(late_system)) is None


def test_anthropic_documents_server_tools_and_thinking() -> None:
    def parse(**extra: Any) -> ChatRequest:
        body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **extra}
        return anthropic_request.parse_request(body)

    assert residue(parse()) == {}
    assert residue(parse(thinking={"type": "enabled", "budget_tokens": 2048})) == {
        "thinking": {"type": "enabled", "budget_tokens": 2048}}
    doc = {"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}},
                                       {"type": "text", "text": "summarise"}]}
    assert residue(parse(messages=[doc])) is None
    assert residue(parse(tools=[{"type": "web_search_20250305", "name": "web_search"}])) is None
    cached = {"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}
    assert residue(parse(messages=[cached])) == {}


def test_gemini_safety_settings_join_the_key_and_non_image_media_is_never_cached() -> None:
    def parse(body: dict[str, Any]) -> ChatRequest:
        return gemini_request.parse_request({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], **body},
                                            "m", stream=False)

    assert residue(parse({})) == {}
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    assert residue(parse({"safetySettings": safety})) == {"safetySettings": safety}
    pdf = {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "application/pdf", "data": "AA=="}},
                                                   {"text": "summarise"}]}]}
    assert residue(parse(pdf)) is None
    assert residue(parse({"generationConfig": {"responseModalities": ["IMAGE"]}})) is None
    assert residue(parse({"generationConfig": {"responseLogprobs": True}})) is None
    assert residue(parse({"tools": [{"googleSearch": {}}]})) is None
