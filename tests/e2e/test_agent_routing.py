"""The recorded agent requests (tests/fixtures/agent_requests) sent to a real gateway whose
catalogue is the shipped config.yaml's (prices, windows, capabilities; every provider pointed at
the fake upstream) with the shipped estimator at cost_bias 0.5: the easy and the hard task of
each agent are served by different models, `x-adaptive-selection` says the router chose, and
`/v1/select-model` explains the same choice for the task's text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from tests.e2e.conftest import UPSTREAM_KEY

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "agent_requests"
AGENTS = ["claude_code", "codex", "gemini_cli"]


def recorded(name: str) -> dict[str, Any]:
    return dict(orjson.loads((FIXTURES / f"{name}.json").read_bytes()))


def shipped_catalogue(upstream: str) -> dict[str, Any]:
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())
    providers = {}
    for name, provider in shipped["providers"].items():
        if provider.get("requires_key") is False:
            continue  # the local ollama entry is off by default
        base = f"{upstream}/v1" if provider["kind"] == "openai" else upstream
        providers[name] = {"kind": provider["kind"], "base_url": base, "api_key": UPSTREAM_KEY,
                           "timeout_ms": 10_000, "models": provider["models"]}
    return {"server": {"log_level": "warning"}, "providers": providers,
            "model_router": {"cost_bias": shipped["model_router"]["cost_bias"]},
            "fallback": {"mode": "off", "max_retries": 0}}


@pytest.fixture(scope="module")
def gateway(start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str) -> str:
    return start_gateway(shipped_catalogue(fake_upstream))


def send(gateway: str, name: str) -> httpx.Response:
    fixture = recorded(name)
    headers = {**fixture["headers"], "content-type": "application/json"}
    if fixture["agent"] == "claude_code":
        headers["x-api-key"] = "client-key"
    elif fixture["agent"] == "gemini_cli":
        headers["x-goog-api-key"] = "client-key"
    else:
        headers["authorization"] = "Bearer client-key"
    reply = httpx.post(gateway + fixture["path"], content=orjson.dumps(fixture["body"]), headers=headers, timeout=30)
    assert reply.status_code == 200, reply.text[:500]
    return reply


@pytest.mark.parametrize("agent", AGENTS)
def test_an_agents_easy_and_hard_task_are_served_by_different_models(gateway: str, agent: str) -> None:
    served = {}
    for task in ("easy", "hard"):
        reply = send(gateway, f"{agent}_{task}")
        assert reply.headers["x-adaptive-selection"] in ("router", "cache_exact")
        served[task] = f"{reply.headers['x-adaptive-provider']}:{reply.headers['x-adaptive-model']}"
    assert served["easy"] != served["hard"]


def test_select_model_explains_the_choice_for_the_tasks_text(gateway: str) -> None:
    shipped = yaml.safe_load((ROOT / "config.yaml").read_text())["providers"]
    models = [{"provider": p, "model": m, **spec}
              for p, provider in shipped.items() if provider.get("requires_key") is not False
              for m, spec in provider["models"].items()]
    tools = [{"type": "function", "function": {"name": "Bash"}}]
    choices = {}
    for task in ("easy", "hard"):
        prompt = recorded(f"claude_code_{task}")["prompt"]
        reminder = "<system-reminder>\nUse four-space indentation.\n</system-reminder>\n"
        for text in (prompt, reminder + prompt):
            reply = httpx.post(f"{gateway}/v1/select-model", timeout=30,
                               json={"models": models, "prompt": text, "cost_bias": 0.5, "tools": tools})
            assert reply.status_code == 200, reply.text
            assert reply.headers["x-adaptive-selection"] in ("router", "cache_exact")
            body = reply.json()
            choices.setdefault(task, set()).add((body["provider"], body["model"], body["difficulty"]))
    assert len(choices["easy"]) == len(choices["hard"]) == 1  # the reminder changes nothing
    assert choices["easy"] != choices["hard"]
