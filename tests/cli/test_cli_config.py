"""The `adaptive-proxy` command as a user runs it: a subprocess, its exit code, stdout and stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=60, env={"PATH": "/usr/bin:/bin"})


def test_cli_bad_config_exits_2_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("providers:\n  openai:\n    kind: openai\n    timeout_ms: abc\n")
    result = _cli("serve", "--config", str(bad), cwd=ROOT)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "adaptive-proxy: config error: providers.openai.timeout_ms: expected an integer")
    assert "Traceback" not in result.stderr


def test_cli_check_config_lists_disabled_providers() -> None:
    result = _cli("check-config", "--config", "config.yaml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("running on embedded defaults")
    assert "provider openai (openai): disabled: no api_key set" in result.stdout
    assert "provider ollama (openai): disabled in config" in result.stdout
    assert "routing: built-in router, cost_bias 0.5; decision cache: exact, ttl 3600s" in result.stdout
