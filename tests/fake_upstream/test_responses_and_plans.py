"""The fake's Responses API endpoint (official openai SDK), scripted tool plans and JSON answers."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as genai_types

from tests.fake_upstream.conftest import FakeServer

SHELL = {"type": "function", "name": "shell", "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}
OTHER = {"type": "function", "name": "other", "parameters": {"type": "object", "properties": {}}}


def client(fake: FakeServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{fake.url}/v1", api_key="sk-test", max_retries=0, timeout=10)


def test_responses_create_text_and_usage(fake: FakeServer) -> None:
    response = client(fake).responses.create(model="gpt-4o-mini", input="hello there", instructions="be nice")
    assert response.output_text == "Fake reply to: hello there"
    assert response.status == "completed"
    assert response.usage.input_tokens == 4 and response.usage.total_tokens == 4 + response.usage.output_tokens
    assert fake.stats()["by_path"] == {"/v1/responses": 1}


def test_responses_stream_events_in_order(fake: FakeServer) -> None:
    with client(fake).responses.stream(model="m", input="one two") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds.count("response.output_text.delta") == 5 and kinds[-1] == "response.completed"
    assert final.output_text == "Fake reply to: one two"


def test_responses_tool_call_then_result(fake: FakeServer) -> None:
    sdk = client(fake)
    first = sdk.responses.create(model="m", input="run it", tools=[SHELL])
    call = first.output[0]
    assert (call.type, call.name, json.loads(call.arguments)) == ("function_call", "shell", {"command": "example"})
    second = sdk.responses.create(model="m", tools=[SHELL], input=[
        {"role": "user", "content": "run it"},
        {"type": "function_call", "call_id": call.call_id, "name": "shell", "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "42"},
    ])
    assert second.output_text == "Tool result received: 42"


def test_a_tool_plan_calls_only_its_tool_then_answers(fake: FakeServer) -> None:
    fake.control("/_fake/tools", {"call": {"name": "shell", "arguments": {"command": "echo hi"}}, "answer": "done: hi"})
    sdk = client(fake)
    side = sdk.responses.create(model="m", input="title this", tools=[OTHER])
    assert side.output_text == "Fake reply to: title this"  # a request without the planned tool: text
    first = sdk.responses.create(model="m", input="go", tools=[OTHER, SHELL])
    assert (first.output[0].name, json.loads(first.output[0].arguments)) == ("shell", {"command": "echo hi"})
    final = sdk.responses.create(model="m", tools=[OTHER, SHELL], input=[
        {"role": "user", "content": "go"},
        {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "hi"},
        {"role": "user", "content": "and a reminder after the result"},
    ])
    assert final.output_text == "done: hi"
    fake.control("/_fake/tools", {"call": None, "answer": "pong"})
    assert sdk.responses.create(model="m", input="ping", tools=[SHELL]).output_text == "pong"
    fake.control("/_fake/tools", {})
    assert fake.stats()["tool_plan"] is None


def test_a_plan_over_the_anthropic_and_gemini_formats(fake: FakeServer) -> None:
    fake.control("/_fake/tools", {"call": {"name": "shell", "arguments": {"command": "ls"}}, "answer": "listed"})
    claude = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0)
    tool = {"name": "shell", "input_schema": SHELL["parameters"]}
    first = claude.messages.create(model="c", max_tokens=100, tools=[tool],
                                   messages=[{"role": "user", "content": "list"}])
    assert first.content[0].type == "tool_use" and first.content[0].input == {"command": "ls"}
    second = claude.messages.create(model="c", max_tokens=100, tools=[tool], messages=[
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shell", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "a b"},
                                     {"type": "text", "text": "<system-reminder>x</system-reminder>"}]},
    ])
    assert second.content[0].text == "listed"
    gemini = genai.Client(api_key="k", http_options=genai_types.HttpOptions(base_url=fake.url))
    config = genai_types.GenerateContentConfig(tools=[genai_types.Tool(function_declarations=[
        genai_types.FunctionDeclaration(name="shell", parameters_json_schema=SHELL["parameters"])])])
    reply = gemini.models.generate_content(model="gemini-2.5-flash", contents="list", config=config)
    assert reply.function_calls[0].args == {"command": "ls"}


def test_json_answers_follow_the_schema(fake: FakeServer) -> None:
    schema = {"type": "object", "properties": {"choice": {"type": "string", "enum": ["flash", "pro"]},
                                               "score": {"type": "integer"}, "tags": {"type": "array",
                                                                                      "items": {"type": "string"}}}}
    sdk = client(fake)
    chat = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "pick"}],
                                       response_format={"type": "json_schema",
                                                        "json_schema": {"name": "p", "schema": schema}})
    assert json.loads(chat.choices[0].message.content) == {"choice": "flash", "score": 1, "tags": ["example"]}
    mode = sdk.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}],
                                       response_format={"type": "json_object"})
    assert json.loads(mode.choices[0].message.content) == {"reply": "Fake reply to: hi"}
    responses = sdk.responses.create(model="m", input="x", text={"format": {"type": "json_schema", "name": "p",
                                                                             "schema": schema}})
    assert json.loads(responses.output_text)["choice"] == "flash"
    gemini = genai.Client(api_key="k", http_options=genai_types.HttpOptions(base_url=fake.url))
    upper = {"type": "OBJECT", "properties": {"model_choice": {"type": "STRING", "enum": ["flash", "pro"]},
                                              "reasoning": {"type": "STRING"}}}
    reply = gemini.models.generate_content(model="g", contents="route", config=genai_types.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=upper))
    assert json.loads(reply.text) == {"model_choice": "flash", "reasoning": "example"}


def test_gemini_type_names_are_refused_by_the_openai_and_anthropic_formats(fake: FakeServer) -> None:
    upper = {"type": "OBJECT", "properties": {"x": {"type": "STRING"}}}
    with pytest.raises(openai.BadRequestError, match="'OBJECT' is not a JSON Schema type"):
        client(fake).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}],
                                             response_format={"type": "json_schema",
                                                              "json_schema": {"name": "p", "schema": upper}})
    claude = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0)
    with pytest.raises(anthropic.BadRequestError, match="'STRING'"):
        claude.messages.create(model="c", max_tokens=10, messages=[{"role": "user", "content": "x"}],
                               tools=[{"name": "t", "input_schema": {"type": "object",
                                                                     "properties": {"x": {"type": "STRING"}}}}])


def test_gemini_embeddings_match_the_openai_endpoint(fake: FakeServer) -> None:
    gemini = genai.Client(api_key="k", http_options=genai_types.HttpOptions(base_url=fake.url))
    result = gemini.models.embed_content(model="text-embedding-004", contents=["hello world", "other text"],
                                         config=genai_types.EmbedContentConfig(output_dimensionality=16))
    vectors = [e.values for e in result.embeddings]
    expected = client(fake).embeddings.create(model="e", input=["hello world", "other text"], dimensions=16)
    assert vectors == [pytest.approx(d.embedding) for d in expected.data]
