"""The first requests the agents really send (recorded in tests/agents/fixtures, texts shortened):
each parses, and the gateway serves it on every provider kind without a 4xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from adapters.wire.anthropic.request import parse_request as parse_messages
from adapters.wire.gemini.request import parse_request as parse_gemini
from tests.e2e.conftest import FakeUpstream

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = ["fake_openai:gpt-4o-mini", "fake_anthropic:claude-sonnet-4-5", "fake_gemini:gemini-2.5-flash"]


def recorded(name: str) -> dict[str, Any]:
    return dict(orjson.loads((FIXTURES / f"{name}_first_request.json").read_bytes()))


def test_claude_code_mid_conversation_system_message_joins_the_system_prompt() -> None:
    body = recorded("claude_code")["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "system"]
    request = parse_messages(body)
    assert [m.role for m in request.messages] == ["user"]
    system_text = body["messages"][1]["content"][0]["text"]
    assert request.system[-1].text == system_text
    assert request.reasoning_effort == "medium"  # output_config.effort


def test_gemini_cli_classifier_schema_becomes_json_schema() -> None:
    request = parse_gemini(recorded("gemini_cli")["body"], "gemini-3.5-flash-lite", stream=False)
    schema = request.response_format.schema
    assert schema["type"] == "object"
    assert {p["type"] for p in schema["properties"].values()} == {"string", "integer"}
    assert request.reasoning_effort == "high"  # thinkingConfig.thinkingLevel HIGH


@pytest.mark.e2e
@pytest.mark.parametrize("model", MODELS)
def test_the_gateway_serves_each_recorded_request(gateway: str, fake: FakeUpstream, model: str) -> None:
    claude = recorded("claude_code")
    body = orjson.dumps({**claude["body"], "model": model})
    reply = httpx.post(f"{gateway}{claude['path']}", timeout=30, content=body,
                       headers={**claude["headers"], "x-api-key": "test-key", "content-type": "application/json"})
    assert reply.status_code == 200, reply.text
    gemini = recorded("gemini_cli")
    reply = httpx.post(f"{gateway}/v1beta/models/{model}:generateContent", json=gemini["body"], timeout=30,
                       headers={"x-goog-api-key": "test-key"})
    assert reply.status_code == 200, reply.text
    codex = recorded("codex")
    reply = httpx.post(f"{gateway}/v1/responses", json={**codex["body"], "model": model}, timeout=30,
                       headers={"authorization": "Bearer test-key"})
    assert reply.status_code == 200, reply.text
    assert b"response.completed" in reply.content
