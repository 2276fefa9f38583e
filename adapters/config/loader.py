"""YAML file -> validated Settings, with one clear line per error instead of a traceback."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from adapters.config.env import load_environment, substitute
from application.settings import Settings


class ConfigError(Exception):
    """The configuration is unusable; the message names the key and what was expected."""


_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_type": "expected a string",
    "dict_type": "expected a mapping",
    "model_type": "expected a mapping",
    "list_type": "expected a list",
    "extra_forbidden": "unknown key",
    "missing": "required value missing",
}


def format_validation_error(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        path = ".".join(str(p) for p in item["loc"]) or "config"
        kind = item["type"]
        if kind == "literal_error":
            expected = item.get("ctx", {}).get("expected", "")
            message = f"expected one of {expected}"
        elif kind == "value_error":
            message = str(item.get("ctx", {}).get("error", item["msg"]))
        else:
            message = _EXPECTED.get(kind, item["msg"][:1].lower() + item["msg"][1:])
        lines.append(f"{path}: {message}")
    return "; ".join(lines)


def check_config_path(path: str | Path) -> Path:
    candidate = Path(path)
    if candidate.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"{path}: config files must end in .yaml or .yml")
    if ".." in candidate.parts:
        raise ConfigError(f"{path}: config paths may not contain '..'")
    resolved = candidate.resolve()
    if not resolved.is_file():
        raise ConfigError(f"{path}: config file not found")
    return resolved


def settings_from_dict(data: Mapping[str, Any]) -> Settings:
    try:
        return Settings.model_validate(dict(data))
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc)) from None


def load_settings(path: str | Path, env_files: Sequence[str | Path] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read, substitute and validate a config file. Raises ConfigError with a one-line message."""
    resolved = check_config_path(path)
    try:
        env = load_environment(env_files, environ)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    try:
        data = yaml.safe_load(resolved.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}".replace("\n", " ")) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return settings_from_dict(substitute(data, env))
