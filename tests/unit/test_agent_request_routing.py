"""Recorded agent requests (tests/fixtures/agent_requests, from scripts/record_agent_requests.py)
routed with the shipped estimator and the shipped config.yaml catalogue at cost_bias 0.5: an easy
and a hard task get different models for Claude Code, Codex and Gemini CLI alike, and a turn that
only carries a tool result goes where its task's first turn went.

The tasks are far apart on purpose ("What is 2+2?" against a lock-free hash map with a
linearizability proof), so any reasonable estimator should separate them; the exact models
depend on the estimator and are not asserted."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest

from adapters.config import load_settings
from adapters.routing.params_file import load_estimator
from adapters.wire.anthropic.request import parse_request as parse_messages
from adapters.wire.gemini.request import parse_request as parse_gemini
from adapters.wire.responses.request import parse_request as parse_responses
from application.request_config import base_config
from application.selection import Selection, Selector, routing_input
from application.settings import Endpoint
from domain.catalog import ModelInfo
from domain.chat import ChatRequest
from domain.routing import Router, RoutingPrior

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "agent_requests"
AGENTS = ["claude_code", "codex", "gemini_cli"]
KEYS = {name: "k" for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY",
                               "GROQ_API_KEY", "XAI_API_KEY")}
FAMILY: dict[str, Endpoint] = {"claude_code": "messages", "codex": "chat_completions", "gemini_cli": "gemini"}


def recorded(name: str) -> dict[str, Any]:
    return dict(orjson.loads((FIXTURES / f"{name}.json").read_bytes()))


def parsed(agent: str, name: str, model: str | None = None) -> ChatRequest:
    body = dict(recorded(name)["body"])
    if model is not None:
        body["model"] = model
    if agent == "claude_code":
        return parse_messages(body)
    if agent == "codex":
        return parse_responses(body)[0]
    return parse_gemini(body, model or "gemini-3.8-flash", stream=True)


@pytest.fixture(scope="module")
def shipped() -> tuple[Selector, Any]:
    settings = load_settings(ROOT / "config.yaml", env_files=[], environ=KEYS)
    assert settings.model_router.cost_bias == 0.5
    return Selector(settings, router=Router(load_estimator(), settings.model_router.prior.to_prior())), \
        base_config(settings)


async def select(shipped: tuple[Selector, Any], agent: str, name: str, model: str | None = None) -> Selection:
    selector, config = shipped
    return await selector.select(parsed(agent, name, model), FAMILY[agent], config)


@pytest.mark.parametrize("agent", AGENTS)
def test_the_routing_text_is_the_users_task(agent: str) -> None:
    for task in ("easy", "hard"):
        for suffix in ("", "_tool_result"):
            fixture = recorded(f"{agent}_{task}{suffix}")
            inp = routing_input(parsed(agent, f"{agent}_{task}{suffix}", model="auto"))
            assert inp.prompt == fixture["prompt"]
            assert (inp.agentic, inp.has_tools, inp.needs_tools, inp.turns) == (True, True, True, 1)
            # the context-window check still sees the agent's whole request: prompt, tools and all
            assert inp.estimated_tokens > 4_000 > len(inp.prompt)


@pytest.mark.parametrize("agent", AGENTS)
async def test_easy_and_hard_tasks_get_different_models(shipped: tuple[Selector, Any], agent: str) -> None:
    easy = await select(shipped, agent, f"{agent}_easy")
    hard = await select(shipped, agent, f"{agent}_hard")
    assert easy.source == hard.source == "router"
    assert easy.targets[0] != hard.targets[0]
    assert easy.difficulty is not None and hard.difficulty is not None
    assert easy.difficulty < hard.difficulty


@pytest.mark.parametrize("agent", AGENTS)
@pytest.mark.parametrize("task", ["easy", "hard"])
async def test_a_tool_result_turn_stays_with_its_task(shipped: tuple[Selector, Any], agent: str, task: str) -> None:
    first = await select(shipped, agent, f"{agent}_{task}")
    # Claude Code's tool turn was recorded on a named model; routed here like its first turn.
    model = recorded(f"{agent}_{task}")["body"].get("model")
    loop = await select(shipped, agent, f"{agent}_{task}_tool_result", model=model)
    assert (loop.targets[0], loop.difficulty) == (first.targets[0], first.difficulty)


def test_the_features_prior_raises_an_agents_difficulty_by_a_bounded_amount() -> None:
    inp = routing_input(parsed("codex", "codex_easy"))
    models = [ModelInfo("a", "small", 0.1, 0.4, supports_tools=True, quality=0.5),
              ModelInfo("b", "large", 5.0, 15.0, supports_tools=True, quality=0.9)]
    d0 = Router(load_estimator()).choose(models, inp, 0.5).difficulty
    d1 = Router(load_estimator(), RoutingPrior(agentic=1.0)).choose(models, inp, 0.5).difficulty
    assert d0 is not None and d1 is not None
    assert d0 < d1 <= 1 / (1 + math.exp(-(math.log(d0 / (1 - d0)) + 1.0))) + 1e-9
