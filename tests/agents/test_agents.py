"""Claude Code, Codex and Gemini CLI, run non-interactively against the gateway (fake upstream
behind it): a one-line prompt, and a turn in which the upstream answers with a tool call, the
agent runs it (a shell command whose output only a real run produces), sends the result back
through the gateway and prints the final answer.

The one-line prompts go through the router; the tool turns name a provider of another family
(`provider:model`), so the agent's request and the tool result are translated both ways."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.agents.conftest import AgentRun, Runner
from tests.e2e.conftest import FakeUpstream

pytestmark = pytest.mark.e2e

ANSWER = "Hello from the gateway"
COMMAND = "expr 6 '*' 7"  # prints 42: the final answer holds it only if the agent ran the tool


def plan(fake: FakeUpstream, payload: dict[str, object]) -> None:
    httpx.post(f"{fake.url}/_fake/tools", json=payload, timeout=5).raise_for_status()


def assert_ok(run: AgentRun) -> None:
    assert run.returncode == 0, f"exit {run.returncode}\nstdout:\n{run.stdout[-2000:]}\nstderr:\n{run.stderr[-3000:]}"


def prompts_seen(fake: FakeUpstream) -> str:
    return json.dumps(fake.last_request.get("body"))


# --- Claude Code --------------------------------------------------------------------------------

def claude(run_agent: Runner, gateway: str, *args: str) -> AgentRun:
    env = {"ANTHROPIC_BASE_URL": gateway, "ANTHROPIC_API_KEY": "test-key", "DISABLE_TELEMETRY": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_ERROR_REPORTING": "1"}
    return run_agent(["claude", "-p", *args, "--output-format", "json"], env)


def test_claude_code_one_line_prompt(run_agent: Runner, gateway: str, fake: FakeUpstream) -> None:
    plan(fake, {"call": None, "answer": ANSWER})
    run = claude(run_agent, gateway, "Say hello to the gateway")
    assert_ok(run)
    result = json.loads(run.stdout)
    assert (result["result"], result["is_error"]) == (ANSWER, False)
    assert "Say hello to the gateway" in prompts_seen(fake)


def test_claude_code_tool_round_trip(run_agent: Runner, gateway: str, fake: FakeUpstream) -> None:
    plan(fake, {"call": {"name": "Bash", "arguments": {"command": COMMAND, "description": "multiply"}}})
    run = claude(run_agent, gateway, "Multiply six by seven with the shell", "--allowedTools", "Bash(expr:*)",
                 "--model", "fake_gemini:gemini-2.5-flash")
    assert_ok(run)
    result = json.loads(run.stdout)
    assert result["result"].startswith("Tool result received:") and "42" in result["result"]
    assert result["num_turns"] == 2
    assert set(fake.stats()["by_path"]) == {"/v1beta/models/gemini-2.5-flash:streamGenerateContent"}


# --- Codex -------------------------------------------------------------------------------------

def codex(run_agent: Runner, gateway: str, model: str, prompt: str) -> AgentRun:
    config = "\n".join([
        f'model = "{model}"', 'model_provider = "gateway"', "check_for_update_on_startup = false",
        "[model_providers.gateway]", 'name = "AdaptiveProxy"', f'base_url = "{gateway}/v1"',
        'env_key = "GATEWAY_API_KEY"', 'wire_api = "responses"', "[analytics]", "enabled = false",
        "[feedback]", "enabled = false", "",
    ])
    env = {"GATEWAY_API_KEY": "test-key", "CODEX_HOME": "", "RUST_LOG": "error"}
    return run_agent(["codex", "exec", "--skip-git-repo-check", prompt], {k: v for k, v in env.items() if v},
                     {".codex/config.toml": config})


def test_codex_one_line_prompt(run_agent: Runner, gateway: str, fake: FakeUpstream) -> None:
    plan(fake, {"call": None, "answer": ANSWER})
    run = codex(run_agent, gateway, "auto", "Say hello to the gateway")
    assert_ok(run)
    assert run.stdout.strip() == ANSWER
    assert "Say hello to the gateway" in prompts_seen(fake)


def test_codex_tool_round_trip(run_agent: Runner, gateway: str, fake: FakeUpstream) -> None:
    plan(fake, {"call": {"name": "exec_command", "arguments": {"cmd": COMMAND}}})
    run = codex(run_agent, gateway, "fake_anthropic:claude-sonnet-4-5", "Multiply six by seven with the shell")
    assert_ok(run)
    assert run.stdout.strip().startswith("Tool result received:") and "42" in run.stdout
    assert set(fake.stats()["by_path"]) == {"/v1/messages"}


# --- Gemini CLI ---------------------------------------------------------------------------------

GEMINI_SETTINGS = json.dumps({
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
    "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
})


def gemini(run_agent: Runner, gateway: str, *args: str) -> AgentRun:
    env = {"GOOGLE_GEMINI_BASE_URL": gateway, "GEMINI_API_KEY": "test-key", "GEMINI_CLI_TRUST_WORKSPACE": "true"}
    return run_agent(["gemini", "-p", *args], env, {".gemini/settings.json": GEMINI_SETTINGS})


def test_gemini_cli_one_line_prompt(run_agent: Runner, gateway: str, fake: FakeUpstream) -> None:
    plan(fake, {"call": None, "answer": ANSWER})
    run = gemini(run_agent, gateway, "Say hello to the gateway")
    assert_ok(run)
    assert run.stdout.strip() == ANSWER
    assert "Say hello to the gateway" in prompts_seen(fake)


def test_gemini_cli_tool_round_trip(run_agent: Runner, gateway: str, fake: FakeUpstream) -> None:
    plan(fake, {"call": {"name": "run_shell_command", "arguments": {"command": COMMAND}}})
    run = gemini(run_agent, gateway, "Multiply six by seven with the shell", "--yolo",
                 "-m", "fake_openai:gpt-4o-mini")
    assert_ok(run)
    assert run.stdout.strip().startswith("Tool result received:") and "42" in run.stdout
    assert set(fake.stats()["by_path"]) == {"/v1/chat/completions"}
