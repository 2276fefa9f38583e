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


def _field_names(model: type[BaseModel]) -> set[str]:
    names: set[str] = set()
    pending: list[type[BaseModel]] = [model]
    while pending:
        current = pending.pop()
        for name, info in current.model_fields.items():
            names.add(name)
            for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
                if isinstance(arg, type) and issubclass(arg, BaseModel) and arg is not current:
                    pending.append(arg)
    return names


def parse(model: type[M], body: Any, explain: Explain) -> M:
    """Validate strictly (no coercion: a bool is not a number, "1" is not an integer)."""
    try:
        return model.model_validate(body, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        # Drop what pydantic adds for union members ('amount', 'str') so the path names the field.
        fields = _field_names(model)
        last = len(error["loc"]) - 1
        loc = tuple(part for i, part in enumerate(error["loc"]) if isinstance(part, int) or part in fields
                    or (i == last and error["type"] == "extra_forbidden"))
        param = param_path(loc)
        raise InvalidRequest(explain(error, param) or f"{param}: {error['msg']}", param=param or None) from None
