"""The OpenAI chat completions body's cache residue: its allowlist (see adapters/wire/cache_residue.py)."""

from __future__ import annotations

from typing import Any

from adapters.wire.cache_residue import Lossy, fits, only, top_level
from application.request_config import OVERRIDE_FIELDS

_OPENAI_NEUTRAL = OVERRIDE_FIELDS | {"model", "stream", "stream_options", "user", "metadata", "store",
                                    "service_tier", "safety_identifier", "prompt_cache_key",
                                    "prompt_cache_retention"}
_OPENAI_MODELLED = frozenset({"messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens",
                              "max_completion_tokens", "temperature", "top_p", "top_k", "stop", "n", "seed",
                              "response_format", "reasoning_effort"})
_OPENAI_SAMPLING = frozenset({"frequency_penalty", "presence_penalty", "logit_bias", "verbosity"})
_EFFORTS = frozenset({"minimal", "low", "medium", "high"})


def _openai_content(content: Any, text_only: bool) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise Lossy
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            only(part, ("type", "text", "cache_control"))
        elif kind == "image_url" and not text_only:
            only(part, ("type", "image_url"))
            if isinstance(part["image_url"], dict):
                only(part["image_url"], ("url", "detail"))
        else:
            raise Lossy


def residue(body: dict[str, Any]) -> dict[str, Any]:
    extra = top_level(body, _OPENAI_NEUTRAL, _OPENAI_MODELLED, _OPENAI_SAMPLING)
    conversation_started = False
    for m in body.get("messages") or ():
        role = m.get("role") if isinstance(m, dict) else None
        if role in ("system", "developer"):
            if conversation_started:  # the domain hoists system text to the front
                raise Lossy
            only(m, ("role", "content"))
            _openai_content(m.get("content"), text_only=True)
            continue
        if role not in ("user", "assistant", "tool"):
            raise Lossy
        conversation_started = True
        only(m, ("role", "content", "name", "tool_call_id", "tool_calls", "reasoning_content"))
        _openai_content(m.get("content"), text_only=False)
        for call in m.get("tool_calls") or ():
            only(call, ("id", "type", "function"))
            only(call.get("function"), ("name", "arguments"))
    tools = body.get("tools") or []
    if not all(fits(t, ("type", "function")) and fits(t.get("function"), ("name", "description", "parameters"))
               for t in tools):
        extra["tools"] = tools
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise Lossy
        if not fits(fmt, ("type", "json_schema")) or (
                fmt.get("json_schema") is not None and not fits(fmt["json_schema"], ("name", "schema", "strict"))):
            extra["response_format"] = fmt
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _EFFORTS:
        extra["reasoning_effort"] = effort
    return extra
