"""Validation helpers every family's request parser shares. Each family passes its own error
`code` and how it names a field in messages (`name`), so its errors keep their wording."""

from __future__ import annotations

from typing import Any

from domain.errors import InvalidRequest


def invalid(message: str, param: str, code: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code=code)


def number(value: Any, name: str, param: str, code: str, low: float, high: float) -> float | None:
    """None when absent; else a real number in [low, high] (booleans are not numbers)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid(f"{name} must be a number between {low:g} and {high:g}", param, code)
    return float(value)


def integer(value: Any, name: str, param: str, code: str, minimum: int = 1) -> int | None:
    """None when absent; else an integer >= `minimum` (1: positive, 0: non-negative)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        kind = "a positive integer" if minimum == 1 else "a non-negative integer"
        raise invalid(f"{name} must be {kind}", param, code)
    return value
