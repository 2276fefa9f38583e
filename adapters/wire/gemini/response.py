"""Gemini GenerateContentResponse bodies and usage <-> domain.chat (streams: gemini_stream).

Usage: `promptTokenCount` includes cached tokens (like the domain), `candidatesTokenCount`
excludes thoughts (the domain's output includes them). Function calls without an id get one
(`call_<hex>`), unique across turns as Anthropic requires.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

from adapters.wire.gemini.request import get
from adapters.wire.tool_arguments import arguments_object
from domain.chat import (
    ChatResponse,
    FinishReason,
    Part,
    TextPart,
    ThinkingPart,
    ToolCall,
    Usage,
)

FINISH_IN: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
    "IMAGE_PROHIBITED_CONTENT": "content_filter",
}
FINISH_OUT: dict[FinishReason, str] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "content_filter": "SAFETY",
}


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    thoughts = int(raw.get("thoughtsTokenCount") or 0)
    return Usage(
        input_tokens=int(raw.get("promptTokenCount") or 0) + int(raw.get("toolUsePromptTokenCount") or 0),
        output_tokens=int(raw.get("candidatesTokenCount") or 0) + thoughts,
        cache_read_tokens=int(raw.get("cachedContentTokenCount") or 0),
        reasoning_tokens=thoughts,
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "promptTokenCount": usage.input_tokens,
        "candidatesTokenCount": max(0, usage.output_tokens - usage.reasoning_tokens),
        "totalTokenCount": usage.total_tokens,
    }
    if usage.cache_read_tokens:
        out["cachedContentTokenCount"] = usage.cache_read_tokens
    if usage.reasoning_tokens:
        out["thoughtsTokenCount"] = usage.reasoning_tokens
    if usage.cache_tier:
        out["cacheTier"] = usage.cache_tier
    return out


def finish_reason(candidate: dict[str, Any], body: dict[str, Any], has_calls: bool) -> FinishReason:
    reason = candidate.get("finishReason")
    if reason is None and get(body.get("promptFeedback"), "blockReason"):
        return "content_filter"
    finish = FINISH_IN.get(str(reason or "STOP"), "stop")
    return "tool_calls" if finish == "stop" and has_calls else finish


def candidate_parts(candidate: dict[str, Any]) -> list[dict[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, dict) else None
    return [p for p in parts or () if isinstance(p, dict)]


def thought_signature(part: dict[str, Any]) -> str | None:
    value = get(part, "thoughtSignature", "thought_signature")
    return value if isinstance(value, str) and value else None


def function_call(part: dict[str, Any]) -> ToolCall | None:
    fc = get(part, "functionCall", "function_call")
    if not isinstance(fc, dict):
        return None
    return ToolCall(id=str(fc.get("id") or new_call_id()), name=str(fc.get("name") or ""),
                    arguments=orjson.dumps(fc.get("args") or {}).decode())


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """A provider's GenerateContentResponse -> ChatResponse (the first candidate; `raw` keeps all)."""
    candidates = body.get("candidates") or [{}]
    candidate = candidates[0] if isinstance(candidates[0], dict) else {}
    content: list[Part] = []
    thinking: list[str] = []
    text: list[str] = []
    calls: list[ToolCall] = []
    signature: str | None = None
    for part in candidate_parts(candidate):
        signature = signature or thought_signature(part)
        call = function_call(part)
        if call is not None:
            calls.append(call)
        elif isinstance(part.get("text"), str):
            (thinking if part.get("thought") else text).append(part["text"])
    if thinking or signature:
        content.append(ThinkingPart(text="".join(thinking), signature=signature,
                                    signed_by="gemini" if signature else None))
    if text:
        content.append(TextPart(text="".join(text)))
    return ChatResponse(
        id=str(body.get("responseId") or ""),
        model=str(body.get("modelVersion") or ""),
        content=content,
        tool_calls=calls,
        finish_reason=finish_reason(candidate, body, bool(calls)),
        usage=parse_usage(body.get("usageMetadata")),
        created=int(time.time()),
        raw=body,
        raw_family="gemini",
    )


def response_chunk(parts: list[dict[str, Any]] | None, model: str, response_id: str,
                   finish: FinishReason | None = None, usage: Usage | None = None,
                   provider: str = "") -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"role": "model", "parts": parts}
    if finish is not None:
        candidate["finishReason"] = FINISH_OUT[finish]
    out: dict[str, Any] = {"candidates": [candidate]}
    if usage is not None:
        out["usageMetadata"] = encode_usage(usage)
    out["modelVersion"] = model
    out["responseId"] = response_id
    out["provider"] = provider
    return out


def encode_response(response: ChatResponse, provider: str = "") -> dict[str, Any]:
    """ChatResponse -> the GenerateContentResponse a Gemini client parses, naming the provider."""
    if response.raw_family == "gemini" and response.raw is not None:
        body = {**response.raw, "provider": provider}
        if response.usage.cache_tier:
            body["usageMetadata"] = {**(response.raw.get("usageMetadata") or {}),
                                     "cacheTier": response.usage.cache_tier}
        return body
    parts: list[dict[str, Any]] = []
    for part in response.content:
        if isinstance(part, ThinkingPart):
            if part.text:
                parts.append({"text": part.text, "thought": True})
        elif isinstance(part, TextPart):
            parts.append({"text": part.text})
    parts.extend({"functionCall": {"id": c.id, "name": c.name, "args": arguments_object(c.arguments)}}
                 for c in response.tool_calls)
    signature = next((p.signature for p in response.content
                      if isinstance(p, ThinkingPart) and p.signed_by == "gemini" and p.signature), None)
    if signature and parts:
        parts[-1 if response.tool_calls else 0]["thoughtSignature"] = signature
    return response_chunk(parts, response.model, response.id, response.finish_reason, response.usage, provider)
