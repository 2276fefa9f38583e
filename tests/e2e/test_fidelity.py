"""Translation fidelity through a real gateway, the official SDKs and the fake upstream (issue 12):
the provider and cache tier in every family's body, URL-safe image bytes, JSON mode and Gemini
schemas carried across families, untranslated parts refused or dropped with a note, 503/529
kept, same-family headers forwarded, one x-request-id. What no SDK sends goes as raw HTTP.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from adapters.wire.anthropic.upstream import JSON_INSTRUCTION
from tests.e2e.conftest import three_provider_config

pytestmark = pytest.mark.e2e

MODELS = {
    "openai": "fake_openai:gpt-4o-mini",
    "anthropic": "fake_anthropic:claude-sonnet-4-5",
    "gemini": "fake_gemini:gemini-2.5-flash",
}
KINDS = list(MODELS)
PROVIDER = {"openai": "fake_openai", "anthropic": "fake_anthropic", "gemini": "fake_gemini"}
# Bytes whose base64 differs between the two alphabets: standard "+//+", URL-safe "-__-".
IMAGE = b"\xfb\xff\xfe"
STANDARD_B64 = base64.b64encode(IMAGE).decode()


@pytest.fixture(scope="module")
def gateway(start_gateway: Any, fake_upstream: str) -> str:
    # The SDK matrix's config: the same running gateway (routing cache on, as by default).
    return start_gateway(three_provider_config(
        fake_upstream, fallback={"mode": "off", "max_retries": 0, "breaker": {"failure_threshold": 1_000_000}}))


@pytest.fixture(scope="module")
def oai(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(api_key="client-key", base_url=f"{gateway}/v1", max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def claude(gateway: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="client-key", base_url=gateway, max_retries=0, timeout=10)


@pytest.fixture(scope="module")
def gemini(gateway: str) -> genai.Client:
    return genai.Client(api_key="client-key", http_options=gtypes.HttpOptions(base_url=gateway, timeout=10_000))


def gemini_body(client: genai.Client, model: str, contents: Any, **config: Any) -> dict[str, Any]:
    """The raw JSON body the gateway answered (the SDK drops fields it does not model)."""
    reply = client.models.generate_content(model=model, contents=contents, config=gtypes.GenerateContentConfig(
        should_return_http_response=True, **config))
    assert reply.sdk_http_response is not None and reply.sdk_http_response.body
    return dict(json.loads(reply.sdk_http_response.body))


def sent(fake: Any) -> dict[str, Any]:
    return dict(fake.last_request["body"])


# --- provider and cache tier in every family's body --------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_every_family_body_names_the_provider(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                              gemini: genai.Client, fake: Any, kind: str) -> None:
    model = MODELS[kind]
    reply = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    assert reply.model_extra is not None and reply.model_extra["provider"] == PROVIDER[kind]
    message = claude.messages.create(model=model, max_tokens=32, messages=[{"role": "user", "content": "hi"}])
    assert message.model_extra is not None and message.model_extra["provider"] == PROVIDER[kind]
    with claude.messages.stream(model=model, max_tokens=32, messages=[{"role": "user", "content": "hi"}]) as stream:
        streamed = stream.get_final_message()
    assert streamed.model_extra is not None and streamed.model_extra["provider"] == PROVIDER[kind]
    assert gemini_body(gemini, model, "hi")["provider"] == PROVIDER[kind]


def test_a_routing_cache_hit_reports_its_tier_in_every_family(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                                             gemini: genai.Client, fake: Any) -> None:
    # An unprefixed model is routed, through the routing cache: the second identical prompt
    # reuses the decision (the answer itself is fresh from the provider).
    prompt = f"Summarise the plot of a short story {uuid.uuid4().hex}"
    tiers = []
    for _ in range(2):
        raw = oai.chat.completions.with_raw_response.create(model="auto",
                                                            messages=[{"role": "user", "content": prompt}])
        usage = raw.parse().usage
        assert usage is not None and usage.model_extra is not None
        tiers.append((usage.model_extra["cache_tier"], raw.headers["x-adaptive-selection"]))
    assert tiers == [("miss", "router"), ("routing_exact", "cache_exact")]

    message = claude.messages.create(model="auto", max_tokens=32, messages=[{"role": "user", "content": prompt}])
    assert message.usage.model_extra is not None and message.usage.model_extra["cache_tier"] == "routing_exact"
    events = list(claude.messages.create(model="auto", max_tokens=32, stream=True,
                                         messages=[{"role": "user", "content": prompt}]))
    delta = next(e for e in events if e.type == "message_delta")  # the SDK's accumulator keeps known fields only
    assert delta.usage.model_extra is not None and delta.usage.model_extra["cache_tier"] == "routing_exact"
    assert gemini_body(gemini, "auto", prompt)["usageMetadata"]["cacheTier"] == "routing_exact"
    chunks = list(oai.chat.completions.create(model="auto", messages=[{"role": "user", "content": prompt}],
                                              stream=True, stream_options={"include_usage": True}))
    assert chunks[-1].usage is not None and chunks[-1].usage.model_extra == {"cache_tier": "routing_exact"}


def test_a_manual_model_outside_every_cache_reports_no_tier(oai: openai.OpenAI, fake: Any) -> None:
    reply = oai.chat.completions.create(model=MODELS["anthropic"], messages=[{"role": "user", "content": "hi"}])
    assert reply.usage is not None and "cache_tier" not in (reply.usage.model_extra or {})


# --- URL-safe base64 image bytes ---------------------------------------------------------------


def test_google_genai_image_bytes_reach_openai_and_anthropic_as_standard_base64(gemini: genai.Client,
                                                                              fake: Any) -> None:
    contents = [gtypes.Content(role="user", parts=[gtypes.Part.from_text(text="What is this?"),
                                                   gtypes.Part.from_bytes(data=IMAGE, mime_type="image/png")])]
    gemini.models.generate_content(model=MODELS["gemini"], contents=contents)
    client_sent = sent(fake)["contents"][0]["parts"][1]["inlineData"]["data"]
    assert client_sent != STANDARD_B64  # the SDK's URL-safe alphabet, passed through to Gemini untouched
    assert base64.urlsafe_b64decode(client_sent + "=" * (-len(client_sent) % 4)) == IMAGE

    gemini.models.generate_content(model=MODELS["openai"], contents=contents)
    image = sent(fake)["messages"][0]["content"][1]["image_url"]["url"]
    assert image == f"data:image/png;base64,{STANDARD_B64}"

    gemini.models.generate_content(model=MODELS["anthropic"], contents=contents)
    block = sent(fake)["messages"][0]["content"][1]
    assert block["source"] == {"type": "base64", "media_type": "image/png", "data": STANDARD_B64}


# --- JSON mode without a schema -----------------------------------------------------------------


def test_json_mode_without_a_schema_reaches_anthropic(oai: openai.OpenAI, gemini: genai.Client, fake: Any) -> None:
    oai.chat.completions.create(model=MODELS["anthropic"], response_format={"type": "json_object"},
                                messages=[{"role": "system", "content": "Be brief."},
                                          {"role": "user", "content": "List two colours as JSON"}])
    assert sent(fake)["system"] == f"Be brief.\n\n{JSON_INSTRUCTION}"
    gemini.models.generate_content(model=MODELS["anthropic"], contents="List two colours",
                                   config=gtypes.GenerateContentConfig(response_mime_type="application/json"))
    assert sent(fake)["system"] == JSON_INSTRUCTION
    gemini.models.generate_content(model=MODELS["anthropic"], contents="List two colours")
    assert "system" not in sent(fake)  # no JSON mode, no instruction


def test_gemini_json_mode_reaches_openai_with_the_word_json(gemini: genai.Client, fake: Any) -> None:
    reply = gemini.models.generate_content(model=MODELS["openai"], contents="List two colours",
                                           config=gtypes.GenerateContentConfig(response_mime_type="application/json"))
    body = sent(fake)
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0] == {"role": "system", "content": "Respond in JSON."}  # OpenAI requires the word
    assert json.loads(reply.text or "")


# --- schemas between Gemini and the JSON Schema families ----------------------------------------

GEMINI_CLI_SCHEMA = {  # as Gemini CLI writes parametersJsonSchema / responseJsonSchema
    "type": "OBJECT",
    "properties": {"city": {"type": "STRING", "description": "City"},
                   "days": {"type": "INTEGER", "format": "int32", "nullable": True},
                   "tags": {"type": "ARRAY", "items": {"type": "STRING"}}},
    "required": ["city"],
    "propertyOrdering": ["city", "days", "tags"],
}
NORMALISED = {
    "type": "object",
    "properties": {"city": {"type": "string", "description": "City"},
                   "days": {"type": ["integer", "null"]},
                   "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["city"],
}


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_gemini_schemas_are_normalised_for_json_schema_providers(gemini: genai.Client, fake: Any,
                                                                 kind: str) -> None:
    tool = gtypes.Tool(function_declarations=[gtypes.FunctionDeclaration(
        name="forecast", description="Forecast", parameters_json_schema=GEMINI_CLI_SCHEMA)])
    reply = gemini.models.generate_content(model=MODELS[kind], contents="Weather in Oslo",
                                           config=gtypes.GenerateContentConfig(tools=[tool]))
    body = sent(fake)
    schema = body["tools"][0]["function"]["parameters"] if kind == "openai" else body["tools"][0]["input_schema"]
    assert schema == NORMALISED
    assert reply.function_calls and reply.function_calls[0].name == "forecast"

    typed = gtypes.Schema(type=gtypes.Type.OBJECT, property_ordering=["n"], properties={
        "n": gtypes.Schema(type=gtypes.Type.NUMBER, format="double", nullable=True)})
    reply = gemini.models.generate_content(model=MODELS[kind], contents="A number", config=gtypes.GenerateContentConfig(
        response_mime_type="application/json", response_schema=typed))
    body = sent(fake)
    expected = {"type": "object", "properties": {"n": {"type": ["number", "null"]}}}
    if kind == "openai":
        assert body["response_format"]["json_schema"]["schema"] == expected
    else:
        assert body["output_config"]["format"]["schema"] == expected
    assert set(json.loads(reply.text or "")) == {"n"}  # the answer follows the schema


def test_json_schema_nullable_reaches_gemini_as_nullable(oai: openai.OpenAI, fake: Any) -> None:
    oai.chat.completions.create(model=MODELS["gemini"], messages=[{"role": "user", "content": "Weather"}], tools=[
        {"type": "function", "function": {"name": "forecast", "parameters": {
            "type": "object", "properties": {"days": {"type": ["integer", "null"]}}}}}])
    params = sent(fake)["tools"][0]["functionDeclarations"][0]["parameters"]
    assert params["properties"]["days"] == {"type": "integer", "nullable": True}


# --- unknown and untranslatable parts ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["anthropic", "gemini"])
def test_an_unknown_openai_part_is_refused_when_translating(oai: openai.OpenAI, fake: Any, kind: str) -> None:
    before = fake.stats()["requests"]
    content: Any = [{"type": "text", "text": "hi"}, {"type": "bogus_part", "bogus": 1}]
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model=MODELS[kind], messages=[{"role": "user", "content": content}])
    assert "messages[0].content[1]" in caught.value.message and "bogus_part" in caught.value.message
    assert fake.stats()["requests"] == before  # nothing went upstream


def test_an_unknown_part_passes_untouched_to_its_own_family(claude: anthropic.Anthropic, fake: Any) -> None:
    content: Any = [{"type": "text", "text": "hi"}, {"type": "bogus_block", "x": 1}]
    claude.messages.create(model=MODELS["anthropic"], max_tokens=16, messages=[{"role": "user", "content": content}])
    assert sent(fake)["messages"][0]["content"][1] == {"type": "bogus_block", "x": 1}


@pytest.mark.parametrize("kind", ["openai", "gemini"])
def test_an_unknown_anthropic_block_is_refused_when_translating(claude: anthropic.Anthropic, fake: Any,
                                                               kind: str) -> None:
    content: Any = [{"type": "text", "text": "hi"}, {"type": "bogus_block"}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=MODELS[kind], max_tokens=16, messages=[{"role": "user", "content": content}])
    assert "messages.0.content.1" in caught.value.message and "bogus_block" in caught.value.message


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_an_unknown_gemini_part_is_refused_when_translating(gateway: str, fake: Any, kind: str) -> None:
    # google-genai's typed Part refuses unknown fields, so this one goes as raw HTTP.
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}, {"bogusPart": {"x": 1}}]}]}
    response = httpx.post(f"{gateway}/v1beta/models/{MODELS[kind]}:generateContent", json=body, timeout=10)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert "contents[0].parts[1]" in error["message"] and "bogusPart" in error["message"]


@pytest.mark.parametrize("kind", ["anthropic", "gemini"])
def test_openai_audio_is_dropped_with_a_note(oai: openai.OpenAI, fake: Any, kind: str) -> None:
    content: Any = [{"type": "text", "text": "Transcribe please"},
                    {"type": "input_audio", "input_audio": {"data": STANDARD_B64, "format": "wav"}}]
    raw = oai.chat.completions.with_raw_response.create(model=MODELS[kind],
                                                        messages=[{"role": "user", "content": content}])
    assert raw.parse().choices[0].message.content
    assert raw.headers["x-adaptive-notes"] == (f"dropped messages[0].content[1] (input_audio): "
                                               f"a provider of kind {kind} cannot take it")
    assert "input_audio" not in json.dumps(sent(fake))


def test_openai_audio_passes_to_openai_without_a_note(oai: openai.OpenAI, fake: Any) -> None:
    content: Any = [{"type": "text", "text": "Transcribe please"},
                    {"type": "input_audio", "input_audio": {"data": STANDARD_B64, "format": "wav"}}]
    raw = oai.chat.completions.with_raw_response.create(model=MODELS["openai"],
                                                        messages=[{"role": "user", "content": content}])
    assert "x-adaptive-notes" not in raw.headers
    assert sent(fake)["messages"][0]["content"][1]["type"] == "input_audio"


def test_a_turn_of_only_untranslatable_parts_is_refused(gemini: genai.Client, fake: Any) -> None:
    audio_only = [gtypes.Content(role="user", parts=[gtypes.Part.from_bytes(data=IMAGE, mime_type="audio/wav")])]
    with pytest.raises(genai_errors.ClientError) as caught:
        gemini.models.generate_content(model=MODELS["openai"], contents=audio_only)
    assert caught.value.code == 400 and "inlineData audio/wav" in str(caught.value.message)
    with_text = [gtypes.Content(role="user", parts=[gtypes.Part.from_text(text="What is said?"),
                                                    gtypes.Part.from_bytes(data=IMAGE, mime_type="audio/wav")])]
    reply = gemini.models.generate_content(model=MODELS["anthropic"], contents=with_text,
                                           config=gtypes.GenerateContentConfig(should_return_http_response=True))
    assert reply.sdk_http_response is not None and reply.sdk_http_response.headers is not None
    assert "inlineData audio/wav" in reply.sdk_http_response.headers["x-adaptive-notes"]


def test_an_anthropic_document_and_server_tool_are_dropped_with_notes(claude: anthropic.Anthropic,
                                                                     fake: Any) -> None:
    content: Any = [{"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
                    {"type": "text", "text": "Summarise"}]
    tools: Any = [{"type": "web_search_20250305", "name": "web_search"}]
    raw = claude.messages.with_raw_response.create(model=MODELS["gemini"], max_tokens=32, tools=tools,
                                                   messages=[{"role": "user", "content": content}])
    assert raw.parse().content
    notes = raw.headers["x-adaptive-notes"].split("; ")
    assert notes == ["dropped messages.0.content.0 (document): a provider of kind gemini cannot take it",
                     "dropped tools.0 (server tool web_search_20250305): a provider of kind gemini cannot take it"]
    assert "tools" not in sent(fake)
    with pytest.raises(anthropic.BadRequestError) as caught:  # forced: refused, not silently dropped
        claude.messages.create(model=MODELS["openai"], max_tokens=32, tools=tools,
                               tool_choice={"type": "tool", "name": "web_search"},
                               messages=[{"role": "user", "content": "Search the news"}])
    assert "tool_choice" in caught.value.message and "web_search" in caught.value.message


# --- upstream 503 and 529 ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_503_stays_503_in_every_sdk(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                             gemini: genai.Client, fake: Any, kind: str) -> None:
    prompt = "hello [[fake:status=503]]"
    with pytest.raises(openai.InternalServerError) as oai_error:
        oai.chat.completions.create(model=MODELS[kind], messages=[{"role": "user", "content": prompt}])
    assert oai_error.value.status_code == 503
    with pytest.raises(anthropic.ServiceUnavailableError) as claude_error:
        claude.messages.create(model=MODELS[kind], max_tokens=16, messages=[{"role": "user", "content": prompt}])
    assert claude_error.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(genai_errors.ServerError) as gemini_error:
        gemini.models.generate_content(model=MODELS[kind], contents=prompt)
    assert gemini_error.value.code == 503 and gemini_error.value.status == "UNAVAILABLE"


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_529_is_overloaded_for_anthropic_and_503_elsewhere(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                                                   gemini: genai.Client, fake: Any, kind: str) -> None:
    prompt = "hello [[fake:status=529]]"
    with pytest.raises(anthropic.OverloadedError) as claude_error:
        claude.messages.create(model=MODELS[kind], max_tokens=16, messages=[{"role": "user", "content": prompt}])
    assert claude_error.value.status_code == 529
    with pytest.raises(openai.InternalServerError) as oai_error:
        oai.chat.completions.create(model=MODELS[kind], messages=[{"role": "user", "content": prompt}])
    assert oai_error.value.status_code == 503
    with pytest.raises(genai_errors.ServerError) as gemini_error:
        gemini.models.generate_content(model=MODELS[kind], contents=prompt)
    assert gemini_error.value.code == 503


@pytest.mark.parametrize("kind", KINDS)
def test_upstream_401_is_the_gateways_problem_502(oai: openai.OpenAI, claude: anthropic.Anthropic,
                                                  gemini: genai.Client, fake: Any, kind: str) -> None:
    prompt = "hello [[fake:status=401]]"
    with pytest.raises(openai.InternalServerError) as oai_error:
        oai.chat.completions.create(model=MODELS[kind], messages=[{"role": "user", "content": prompt}])
    assert oai_error.value.status_code == 502
    with pytest.raises(anthropic.InternalServerError) as claude_error:
        claude.messages.create(model=MODELS[kind], max_tokens=16, messages=[{"role": "user", "content": prompt}])
    assert claude_error.value.status_code == 502
    with pytest.raises(genai_errors.ServerError) as gemini_error:
        gemini.models.generate_content(model=MODELS[kind], contents=prompt)
    assert gemini_error.value.code == 502


# --- provider-specific headers -------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_anthropic_beta_goes_only_to_anthropic_providers(claude: anthropic.Anthropic, fake: Any, kind: str) -> None:
    claude.messages.create(model=MODELS[kind], max_tokens=16, messages=[{"role": "user", "content": "hi"}],
                           extra_headers={"anthropic-beta": "context-1m-2025-08-07", "x-other": "no"})
    headers = fake.last_request["headers"]
    assert headers.get("anthropic-beta") == ("context-1m-2025-08-07" if kind == "anthropic" else None)
    assert "x-other" not in headers  # not on the allow-list


def test_anthropic_beta_reaches_token_counting(claude: anthropic.Anthropic, fake: Any) -> None:
    claude.messages.count_tokens(model=MODELS["anthropic"], messages=[{"role": "user", "content": "hi"}],
                                 extra_headers={"anthropic-beta": "token-counting-2024-11-01"})
    assert fake.last_request["path"] == "/v1/messages/count_tokens"
    assert fake.last_request["headers"]["anthropic-beta"] == "token-counting-2024-11-01"


@pytest.mark.parametrize("kind", KINDS)
def test_openai_beta_goes_only_to_openai_providers(oai: openai.OpenAI, fake: Any, kind: str) -> None:
    list(oai.chat.completions.create(model=MODELS[kind], messages=[{"role": "user", "content": "hi"}], stream=True,
                                     extra_headers={"openai-beta": "feature=v1"}))
    assert fake.last_request["headers"].get("openai-beta") == ("feature=v1" if kind == "openai" else None)


# --- x-request-id once ---------------------------------------------------------------------------


def test_every_response_carries_one_request_id(gateway: str, fake: Any) -> None:
    with httpx.Client(base_url=gateway, timeout=10) as http:
        answers = [
            http.get("/no/such/route"),
            http.post("/v1/chat/completions", json={"model": "nope:x", "messages": [{"role": "user", "content": "x"}]}),
            http.post("/v1/messages", json={"model": MODELS["openai"], "max_tokens": 8,
                                            "messages": [{"role": "user", "content": "hi"}]},
                      headers={"x-request-id": "mine-1"}),
        ]
    assert [a.status_code for a in answers] == [404, 400, 200]
    for answer in answers:
        assert len(answer.headers.get_list("x-request-id")) == 1
    assert answers[2].headers["x-request-id"] == "mine-1"
