"""The Anthropic Messages body's cache residue: its allowlist (see adapters/wire/cache_residue.py)."""

from __future__ import annotations

from typing import Any

from adapters.wire.cache_residue import Lossy, fits, only, top_level
from application.request_config import OVERRIDE_FIELDS

_ANTHROPIC_NEUTRAL = OVERRIDE_FIELDS | {"model", "stream", "metadata", "service_tier"}
_ANTHROPIC_MODELLED = frozenset({"messages", "system", "tools", "tool_choice", "max_tokens", "temperature", "top_p",
                                 "top_k", "stop_sequences"})
# Mapped to an effort or a budget, which is close but not the same request: keyed as given.
_ANTHROPIC_SAMPLING = frozenset({"thinking", "output_config", "output_format"})


def _anthropic_block(block: Any, role: str, nested: bool = False) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        only(block, ("type", "text", "cache_control"))
    elif kind == "image":
        only(block, ("type", "source", "cache_control"))
        source = block.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        only(source, ("type", "media_type", "data") if kind == "base64" else ("type", "url"))
        if kind not in ("base64", "url"):
            raise Lossy
    elif nested:
        raise Lossy
    elif kind == "thinking" and role == "assistant":
        only(block, ("type", "thinking", "signature"))
    elif kind == "tool_use" and role == "assistant":
        only(block, ("type", "id", "name", "input", "cache_control"))
    elif kind == "tool_result" and role == "user":
        only(block, ("type", "tool_use_id", "content", "is_error", "cache_control"))
        content = block.get("content")
        if isinstance(content, list):
            for inner in content:
                _anthropic_block(inner, role, nested=True)
        elif content is not None and not isinstance(content, str):
            raise Lossy
    else:
        raise Lossy


def residue(body: dict[str, Any]) -> dict[str, Any]:
    extra = top_level(body, _ANTHROPIC_NEUTRAL, _ANTHROPIC_MODELLED, _ANTHROPIC_SAMPLING)
    for m in body.get("messages") or ():
        only(m, ("role", "content"))
        content = m.get("content")
        if isinstance(content, list):
            for block in content:
                _anthropic_block(block, str(m.get("role")))
        elif not isinstance(content, str):
            raise Lossy
    system = body.get("system")
    if isinstance(system, list):
        for block in system:
            if not isinstance(block, dict) or block.get("type", "text") != "text":
                raise Lossy
            only(block, ("type", "text", "cache_control"))
    tools = body.get("tools") or []
    for tool in tools:
        if not isinstance(tool, dict) or ("input_schema" not in tool and tool.get("type") not in (None, "custom")):
            raise Lossy  # a server tool: its results are not in the domain response
    if not all(fits(t, ("type", "name", "description", "input_schema", "cache_control")) for t in tools):
        extra["tools"] = tools
    return extra
