"""Env files and `${VAR}` / `${VAR:-default}` substitution.

Env files are read explicitly, in order: the first file that sets a variable wins and the real
environment beats every file. Nothing is written to `os.environ`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_ENV_FILES = (".env.local", ".env")
_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def parse_env_file(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            continue
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].rstrip()
        values[key] = value
    return values


def load_environment(env_files: Sequence[str | Path] | None = None,
                     environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Variables from the env files (first file wins), overlaid by the real environment.

    `env_files=None` means the defaults `.env.local` then `.env`, each optional; files named
    explicitly must exist.
    """
    explicit = env_files is not None
    files = [Path(f) for f in (env_files if env_files is not None else DEFAULT_ENV_FILES)]
    merged: dict[str, str] = {}
    for path in files:
        if not path.is_file():
            if explicit:
                raise FileNotFoundError(f"env file not found: {path}")
            continue
        for key, value in parse_env_file(path.read_text(encoding="utf-8")).items():
            merged.setdefault(key, value)
    merged.update(os.environ if environ is None else environ)
    return merged


def substitute(value: Any, env: Mapping[str, str]) -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree.

    An empty variable counts as unset. Substituting after parsing means a value can never
    inject YAML structure.
    """
    if isinstance(value, str):
        if "${" not in value:
            return value
        return _VAR.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: substitute(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, env) for v in value]
    return value
