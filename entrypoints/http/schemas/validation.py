"""Pydantic validation errors -> `InvalidRequest` with the gateway's own messages and param paths."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from domain.errors import InvalidRequest

M = TypeVar("M", bound=BaseModel)
# (error, param path) -> message, or None for pydantic's own message
Explain = Callable[[ErrorDetails, str], str | None]


def param_path(loc: tuple[int | str, ...]) -> str:
    """('models', 0, 'quality') -> 'models[0].quality'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(model: type[M], body: Any, explain: Explain) -> M:
    """Validate strictly (no coercion: a bool is not a number, "1" is not an integer)."""
    try:
        return model.model_validate(body, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = tuple(part for part in error["loc"] if not (isinstance(part, str) and part.startswith("function-")))
        param = param_path(loc)
        raise InvalidRequest(explain(error, param) or f"{param}: {error['msg']}", param=param or None) from None
