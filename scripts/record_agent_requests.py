"""Record the request bodies Claude Code, Codex and Gemini CLI really send to the gateway.

Runs each agent (installed by `make agents`) non-interactively against a gateway whose three
providers are the fake upstream, through a small recording proxy on 127.0.0.1 that keeps every
request it forwards. For each agent and task it writes the agent's main model request (the one
that carries the agent's tools; side requests such as Gemini CLI's complexity classifier are
left out) to `tests/fixtures/agent_requests/<agent>_<task>.json`. The fake upstream answers
that first turn with a call of one of the agent's tools (a harmless `expr 6 '*' 7`), so the agent
runs it and sends the result back: that request, with the latest user turn a tool result, is
`<agent>_<task>_tool_result.json`. (Claude Code's routed first turn ends with a system message,
which the fake does not answer with a tool call; its tool turn comes from a second run on a named
model, `fake_gemini:gemini-2.5-flash`, which is the `model` of that fixture.)

Secrets: only the headers in KEPT_HEADERS are written (no auth header), and a fixture holding
the test key is refused. Nothing is shortened. The agents' home directories are temporary; their paths stay in the text
as the agents wrote them.

    PYTHONPATH=$PWD .venv/bin/python scripts/record_agent_requests.py
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from devtools.fake_upstream import running_in_thread, serving_in_thread
from tests.agents.conftest import AGENT_TIMEOUT_S, BIN, AgentRun, base_env
from tests.agents.test_agents import claude, codex, gemini
from tests.e2e.conftest import UPSTREAM_KEY, three_provider_config
from tests.e2e.gateway_process import gateway_process

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "agent_requests"
TASKS = {
    "easy": "What is 2+2?",
    "hard": "Design a lock-free concurrent hash map in C++ with resizing, and give a proof that its insert, "
            "delete and lookup operations are linearizable, including the memory-ordering argument for "
            "each atomic operation.",
}
KEPT_HEADERS = ("anthropic-beta", "anthropic-version", "x-app", "user-agent", "openai-beta", "originator",
                "x-goog-api-client")
TOOL_CALLS = {  # a call of a tool each agent has, planned at the fake upstream for --tool-turn
    "claude_code": {"name": "Bash", "arguments": {"command": "expr 6 '*' 7", "description": "multiply"}},
    "codex": {"name": "exec_command", "arguments": {"cmd": "expr 6 '*' 7"}},
    "gemini_cli": {"name": "run_shell_command", "arguments": {"command": "expr 6 '*' 7"}},
}

# Project instructions each agent reads from its working directory and sends along.
PROJECT_NOTES = "Use four-space indentation. Run `make test` before every commit.\n"
PROJECT_FILES = {"work/AGENTS.md": PROJECT_NOTES, "work/CLAUDE.md": PROJECT_NOTES, "work/GEMINI.md": PROJECT_NOTES}
SECOND_RUN = {"claude_code": ("--model", "fake_gemini:gemini-2.5-flash")}


class Recorder:
    """An ASGI reverse proxy to `target` that keeps (path, headers, JSON body) of each request."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.seen: list[dict[str, Any]] = []

    async def __call__(self, scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        path = scope["path"] + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        self.seen.append({"path": path, "headers": headers, "body": body})
        forward = {k: v for k, v in headers.items() if k not in ("host", "content-length")}
        async with httpx.AsyncClient(timeout=60) as client, client.stream(
                scope["method"], self.target + path, headers=forward, content=raw) as reply:
            await send({"type": "http.response.start", "status": reply.status_code,
                        "headers": [(k.encode(), v.encode()) for k, v in reply.headers.items()
                                    if k.lower() not in ("content-length", "transfer-encoding", "content-encoding")]})
            async for part in reply.aiter_raw():
                await send({"type": "http.response.body", "body": part, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def runner(home_root: Path) -> Callable[..., AgentRun]:
    """The same as tests/agents' `run_agent` fixture, outside pytest."""
    import subprocess

    def run(argv: list[str], env: dict[str, str] | None = None, files: dict[str, str] | None = None) -> AgentRun:
        home = Path(tempfile.mkdtemp(dir=home_root))
        work = home / "work"
        work.mkdir(parents=True)
        for name, text in {**PROJECT_FILES, **(files or {})}.items():
            (home / name).parent.mkdir(parents=True, exist_ok=True)
            (home / name).write_text(text)
        done = subprocess.run([str(BIN / argv[0]), *argv[1:]], cwd=work, env={**base_env(home), **(env or {})},
                              capture_output=True, text=True, timeout=AGENT_TIMEOUT_S, check=False)
        return AgentRun(done.returncode, done.stdout, done.stderr)

    return run


def is_main(seen: dict[str, Any]) -> bool:
    """The agent's own model turn: a request that offers the agent's tools."""
    body = seen.get("body")
    return isinstance(body, dict) and bool(body.get("tools"))


def run_agent_task(agent: str, run: Callable[..., AgentRun], proxy: str, prompt: str, *extra: str) -> AgentRun:
    if agent == "claude_code":
        return claude(run, proxy, prompt, "--allowedTools", "Bash(expr:*)", *extra)
    if agent == "codex":
        return codex(run, proxy, "auto", prompt)
    return gemini(run, proxy, prompt, "--yolo")


def record(agents: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    versions = json.loads((BIN.parent.parent / "package.json").read_text())["dependencies"]
    package = {"claude_code": "@anthropic-ai/claude-code", "codex": "@openai/codex", "gemini_cli": "@google/gemini-cli"}
    with tempfile.TemporaryDirectory() as tmp, running_in_thread() as (fake_url, state), \
            gateway_process(three_provider_config(fake_url, server={"log_level": "warning"}), Path(tmp)) as gw:
        recorder = Recorder(gw.url)
        with serving_in_thread(recorder) as proxy:
            run = runner(Path(tmp))
            for agent in agents:
                for task, prompt in TASKS.items():
                    state.reset()
                    httpx.post(f"{fake_url}/_fake/tools", json={"call": TOOL_CALLS[agent]},
                               timeout=5).raise_for_status()
                    recorder.seen.clear()
                    done = run_agent_task(agent, run, proxy, prompt)
                    if done.returncode != 0:
                        print(f"{agent} {task}: exit {done.returncode}\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}",
                              file=sys.stderr)
                    main = [s for s in recorder.seen if is_main(s)]
                    if agent in SECOND_RUN and main:
                        # Its routed first turn ends with a system message, which the fake does not
                        # answer with a tool call: the tool turn comes from a run on a named model.
                        recorder.seen.clear()
                        run_agent_task(agent, run, proxy, prompt, *SECOND_RUN[agent])
                        main += [s for s in recorder.seen if is_main(s)][1:]
                    print(f"{agent} {task}: {len(recorder.seen)} requests, {len(main)} with tools: "
                          + ", ".join(s["path"] for s in recorder.seen))
                    if not main:
                        continue
                    names = [("", main[0])] + ([("_tool_result", main[-1])] if len(main) > 1 else [])
                    for suffix, seen in names:
                        headers = {k: v for k, v in seen["headers"].items() if k in KEPT_HEADERS}
                        fixture = {"recorded_from": f"{package[agent]} {versions[package[agent]]}, "
                                                    f"scripts/record_agent_requests.py, task {task!r}",
                                   "agent": agent, "task": task, "prompt": prompt,
                                   "path": seen["path"], "headers": headers, "body": seen["body"]}
                        text = json.dumps(fixture, indent=1, ensure_ascii=False)
                        assert UPSTREAM_KEY not in text, "a key would be written to a fixture"
                        (OUT / f"{agent}_{task}{suffix}.json").write_text(text + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", nargs="*", default=["claude_code", "codex", "gemini_cli"])
    args = parser.parse_args()
    record(args.agents)


if __name__ == "__main__":
    main()
