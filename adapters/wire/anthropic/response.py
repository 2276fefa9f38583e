"""Anthropic Messages response bodies and usage <-> domain.chat (streams: anthropic_stream).

`parse_*` read what an Anthropic provider sent; `encode_*` write what an Anthropic client expects.
Usage: Anthropic's `input_tokens` excludes cache reads and writes, the domain's includes them;
`output_tokens` includes thinking, as the domain's does.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson

from adapters.wire.tool_arguments import arguments_object
from domain.chat import (
    ChatResponse,
    FinishReason,
    Part,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCall,
    Usage,
)

log = logging.getLogger(__name__)

STOP_IN: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
STOP_OUT: dict[FinishReason, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
# Anthropic error types -> the HTTP status they stand for (for retry and blame decisions).
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


def parse_usage(raw: Any, base: Usage | None = None) -> Usage:
    """Anthropic usage -> domain Usage; fields absent from `raw` keep their value in `base`."""
    usage = Usage() if base is None else Usage(base.input_tokens, base.output_tokens, base.cache_read_tokens,
                                               base.cache_write_tokens, base.reasoning_tokens)
    if not isinstance(raw, dict):
        return usage
    read = raw.get("cache_read_input_tokens")
    write = raw.get("cache_creation_input_tokens")
    if read is not None:
        usage.cache_read_tokens = int(read)
    if write is not None:
        usage.cache_write_tokens = int(write)
    if raw.get("input_tokens") is not None:
        usage.input_tokens = int(raw["input_tokens"]) + usage.cache_read_tokens + usage.cache_write_tokens
    elif read is not None or write is not None:
        uncached = (base.input_tokens - base.cache_read_tokens - base.cache_write_tokens) if base else 0
        usage.input_tokens = uncached + usage.cache_read_tokens + usage.cache_write_tokens
    if raw.get("output_tokens") is not None:
        usage.output_tokens = int(raw["output_tokens"])
    details = raw.get("output_tokens_details")
    if isinstance(details, dict) and details.get("thinking_tokens") is not None:
        usage.reasoning_tokens = int(details["thinking_tokens"])
    return usage


def encode_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "input_tokens": max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens),
        "output_tokens": usage.output_tokens,
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    if usage.cache_tier:
        out["cache_tier"] = usage.cache_tier
    return out


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """A provider's Message body -> ChatResponse (`raw` keeps it for same-family passthrough)."""
    content: list[Part] = []
    calls: list[ToolCall] = []
    for block in body.get("content") or ():
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            content.append(TextPart(text=str(block.get("text") or "")))
        elif kind == "thinking":
            content.append(ThinkingPart(text=str(block.get("thinking") or ""), signature=block.get("signature"),
                                        signed_by="anthropic"))
        elif kind == "tool_use":
            calls.append(ToolCall(id=str(block.get("id") or f"toolu_{len(calls)}"), name=str(block.get("name") or ""),
                                  arguments=orjson.dumps(block.get("input") or {}).decode()))
        else:
            log.debug("dropping Anthropic response block type %r", kind)
    return ChatResponse(
        id=str(body.get("id") or ""),
        model=str(body.get("model") or ""),
        content=content,
        tool_calls=calls,
        finish_reason=STOP_IN.get(body.get("stop_reason") or "end_turn", "stop"),
        usage=parse_usage(body.get("usage")),
        created=int(time.time()),
        raw=body,
        raw_family="anthropic",
    )


def anthropic_signature(part: ThinkingPart | ThinkingDelta) -> str:
    return (part.signature or "") if part.signed_by == "anthropic" else ""


def message_id(response_id: str) -> str:
    return response_id if response_id.startswith("msg_") else f"msg_{response_id or 'proxy'}"


def encode_response(response: ChatResponse, provider: str = "") -> dict[str, Any]:
    """ChatResponse -> the Message body an Anthropic client parses, naming the provider."""
    if response.raw_family == "anthropic" and response.raw is not None:
        body = {**response.raw, "provider": provider}
        if response.usage.cache_tier:
            body["usage"] = {**(response.raw.get("usage") or {}), "cache_tier": response.usage.cache_tier}
        return body
    blocks: list[dict[str, Any]] = []
    for part in response.content:
        if isinstance(part, ThinkingPart):
            if part.text:  # another family's signature would not verify at Anthropic: left empty
                blocks.append({"type": "thinking", "thinking": part.text, "signature": anthropic_signature(part)})
        elif isinstance(part, TextPart):
            blocks.append({"type": "text", "text": part.text})
    blocks.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": arguments_object(c.arguments)}
                  for c in response.tool_calls)
    return {
        "id": message_id(response.id),
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": blocks,
        "stop_reason": STOP_OUT[response.finish_reason],
        "stop_sequence": None,
        "usage": encode_usage(response.usage),
        "provider": provider,
    }
