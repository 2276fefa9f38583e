"""The real coding agents (Claude Code, Codex, Gemini CLI) as clients of a gateway.

`make agents` installs them from `package-lock.json` into `tests/agents/node_modules` (npm ci,
skipped when the lock has not changed); `make test` depends on it. Each run gets a temporary
HOME holding only the agent's own config, telemetry and update checks off, and proxies pointed at
a closed local port, so nothing leaves 127.0.0.1 except through the gateway under test.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures re-exported for this directory)
    fake,
    fake_upstream,
    fake_upstream_server,
    start_gateway,
    three_provider_config,
)

BIN = Path(__file__).parent / "node_modules" / ".bin"
AGENT_TIMEOUT_S = 120
CLOSED_PORT_PROXY = "http://127.0.0.1:9"  # anything not sent to 127.0.0.1 directly fails at once


@dataclass
class AgentRun:
    returncode: int
    stdout: str
    stderr: str


Runner = Callable[..., AgentRun]


def base_env(home: Path) -> dict[str, str]:
    return {
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8", "TERM": "dumb",
        "HTTPS_PROXY": CLOSED_PORT_PROXY, "HTTP_PROXY": CLOSED_PORT_PROXY, "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1", "CI": "1",
    }


@pytest.fixture(scope="session")
def agents_installed() -> Path:
    missing = [name for name in ("claude", "codex", "gemini") if not (BIN / name).exists()]
    if missing:
        pytest.fail(f"agents not installed ({', '.join(missing)}): run `make agents` (npm ci in tests/agents)")
    return BIN


@pytest.fixture
def run_agent(agents_installed: Path, tmp_path: Path) -> Runner:
    """run_agent(argv, env, files) -> AgentRun: `files` maps paths under HOME to their text."""

    def run(argv: list[str], env: dict[str, str] | None = None, files: dict[str, str] | None = None) -> AgentRun:
        home = tmp_path / "home"
        work = home / "work"
        work.mkdir(parents=True, exist_ok=True)
        for name, text in (files or {}).items():
            path = home / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        full_env = {**base_env(home), **(env or {})}
        done = subprocess.run([str(agents_installed / argv[0]), *argv[1:]], cwd=work, env=full_env,
                              capture_output=True, text=True, timeout=AGENT_TIMEOUT_S, check=False)
        return AgentRun(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture(scope="module")
def gateway(start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str) -> str:  # noqa: F811
    return start_gateway(three_provider_config(fake_upstream))
