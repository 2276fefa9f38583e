"""Arrows point one way: entrypoints -> application -> domain <- adapters."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "application", "adapters", "entrypoints", "container")
# What each layer may import from the project's own layers.
ALLOWED = {
    "domain": {"domain"},
    "application": {"domain", "application"},
    "adapters": {"domain", "application", "adapters"},
    "entrypoints": {"domain", "application", "adapters", "entrypoints", "container"},
}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def _modules(layer: str) -> list[Path]:
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", list(ALLOWED))
def test_layers_import_only_inward(layer: str) -> None:
    wrong = []
    for path in _modules(layer):
        for name in _imports(path):
            if name in LAYERS and name not in ALLOWED[layer]:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_domain_imports_only_the_standard_library() -> None:
    wrong = []
    for path in _modules("domain"):
        for name in _imports(path):
            if name not in STDLIB and name != "domain":
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_guard_catches_a_wrong_way_arrow(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from adapters.config import load_settings\nimport httpx\n")
    assert _imports(bad) == ["adapters", "httpx"]


# Unit tests stay pure: no child processes, sockets or servers (those live in tests/cli, tests/http,
# tests/integration and tests/e2e).
IMPURE = {"subprocess", "socket", "multiprocessing", "uvicorn", "redis", "asyncpg", "aiomysql", "testcontainers"}


def test_unit_tests_start_no_processes_and_open_no_sockets() -> None:
    wrong = []
    for path in sorted((ROOT / "tests" / "unit").rglob("*.py")):
        for name in _imports(path):
            if name in IMPURE:
                wrong.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not wrong, "\n".join(wrong)
