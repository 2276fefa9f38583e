"""Property: whatever JSON a client sends to any route, the answer is never a 5xx, a refusal comes
in the route's family error shape, nothing malformed is forwarded upstream, and a refused request
leaves no usage row. Generated bodies are valid ones with fields replaced, removed or added
(tests/http/fuzz.py); seeded and derandomized, so every run tries the same cases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.http.fuzz import GEMINI, OPENAI, ROUTES, Harness, Route, mutated

CASES = 2500


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    started = Harness(Path(tmp_path_factory.mktemp("fuzz")))
    yield started
    started.close()


def test_generated_bodies_never_get_a_5xx_nor_reach_the_upstream_malformed(harness: Harness) -> None:
    failures: list[tuple[str, str, Any]] = []

    @settings(max_examples=CASES, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def case(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(ROUTES))
        body = data.draw(mutated(route.template, route.models))
        before = len(harness.upstream.garbage)
        problem = harness.problem(route, body)
        if problem is not None:
            failures.append((route.path, problem, body))
        failures.extend((route.path, f"sent upstream to {path}: {what}", sent)
                        for path, what, sent in harness.upstream.garbage[before:])

    case()
    assert failures == []
    assert harness.refused > CASES // 3 and harness.admitted > CASES // 10  # both sides were exercised
    assert harness.usage_rows() == harness.expected_rows  # refused requests left no row


def _with(template: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**template, **fields}


MESSAGES = [{"role": "user", "content": "hi"}]
# The wrong-type cases issue 18 found answering 500 or forwarded upstream; each must be a 400.
ISSUE_CASES: list[tuple[Route, dict[str, Any]]] = [
    (ROUTES[0], _with(OPENAI, provider_configs={"up": {"base_url": 1}})),
    (ROUTES[0], _with(OPENAI, provider_configs={"new": {"kind": 1, "base_url": 1}}, model="new:x")),
    (ROUTES[0], _with(OPENAI, provider_configs={"new": {"kind": "bogus", "base_url": "http://x.test"}})),
    (ROUTES[0], _with(OPENAI, reasoning_effort=["low"])),
    (ROUTES[0], _with(OPENAI, reasoning_effort={"effort": "low"})),
    (ROUTES[0], _with(OPENAI, stop=5)),
    (ROUTES[0], _with(OPENAI, stop=True)),
    (ROUTES[0], _with(OPENAI, response_format={"type": "json_schema", "json_schema": 3})),
    (ROUTES[0], _with(OPENAI, messages=[{"role": {"a": 1}, "content": "hi"}])),
    (ROUTES[0], _with(OPENAI, model="up_gemini:gemini-x", stop=[1])),
    (ROUTES[3], _with(GEMINI, tools=5)),
    (ROUTES[3], _with(GEMINI, tools=True)),
    (ROUTES[3], _with(GEMINI, contents=[{"role": "user", "parts": "hi"}])),
    (ROUTES[3], _with(GEMINI, systemInstruction={"parts": 1})),
    (ROUTES[3], _with(GEMINI, contents=[{"role": "model", "parts": [{"functionCall": 1}]}])),
    (ROUTES[3], _with(GEMINI, generationConfig=[])),
    (ROUTES[3], _with(GEMINI, provider_configs={"new": {"kind": 1, "base_url": 1}})),
    (ROUTES[6], _with(GEMINI, contents=[{"parts": 7}])),
    (ROUTES[1], {"model": "up_anthropic:claude-x", "max_tokens": 5, "messages": MESSAGES, "stop_sequences": "x"}),
    (ROUTES[1], {"model": "up_anthropic:claude-x", "max_tokens": 5, "messages": MESSAGES, "system": [1]}),
    (ROUTES[2], {"model": "up_anthropic:claude-x", "messages": MESSAGES, "tool_choice": "auto"}),
    (ROUTES[8], {"model": "up:m1", "input": "hi", "reasoning": {"effort": ["low"]}}),
]


@pytest.mark.parametrize(("route", "body"), ISSUE_CASES, ids=[f"{i}-{r.path[-20:]}" for i, (r, _) in
                                                               enumerate(ISSUE_CASES)])
def test_the_issue_cases_are_a_400_in_the_family_shape(harness: Harness, route: Route, body: dict[str, Any]) -> None:
    calls, refused = harness.upstream.calls, harness.refused
    assert harness.problem(route, body) is None
    assert harness.refused == refused + 1 and harness.upstream.calls == calls


@pytest.mark.parametrize(("route", "body"), [
    (ROUTES[0], {"model": "up:m1", "messages": MESSAGES * 10_001}),
    (ROUTES[0], {"model": "up:m1", "messages": [{"role": "user", "content": [{"type": "text", "text": "x"}] * 1001}]}),
    (ROUTES[3], {"contents": [{"parts": [{"text": "x"}]}], "tools": [{}] * 1001}),
    (ROUTES[1], {"model": "up_anthropic:claude-x", "max_tokens": 5, "messages": MESSAGES,
                 "metadata": {}},
    ),
], ids=["messages", "parts", "tools", "nesting"])
def test_counts_and_nesting_are_bounded(harness: Harness, route: Route, body: dict[str, Any]) -> None:
    sent: Any = body
    if "metadata" in body:  # nesting past the parser's 1024 levels
        sent = orjson.dumps(body).replace(b'"metadata":{}', b'"metadata":{"a":' + b"[" * 1100 + b"]" * 1100 + b"}")
    calls = harness.upstream.calls
    assert harness.problem(route, sent) is None and harness.upstream.calls == calls
