"""OpenAI chat-completion responses and stream chunks <-> domain.chat.

`parse_*` read what an OpenAI-compatible provider sent; `encode_*` write what an OpenAI client
expects. Stream chunks are translated one at a time: nothing is buffered to the end.
"""

from __future__ import annotations

import time
from typing import Any

from domain.chat import (
    ChatResponse,
    FinishReason,
    TextPart,
    ThinkingPart,
    ToolCall,
    Usage,
)

FINISH_IN: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt = raw.get("prompt_tokens_details") or {}
    completion = raw.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_tier:
        out["cache_tier"] = usage.cache_tier
    return out


def _tool_calls(raw: Any) -> list[ToolCall]:
    calls = []
    for i, item in enumerate(raw or []):
        fn = item.get("function") or {}
        calls.append(ToolCall(id=item.get("id") or f"call_{i}", name=fn.get("name") or "",
                              arguments=fn.get("arguments") or ""))
    return calls


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """A provider's chat.completion body -> ChatResponse (the first choice; `raw` keeps all)."""
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[Any] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(ThinkingPart(text=reasoning))
    if isinstance(message.get("content"), str) and message["content"]:
        content.append(TextPart(text=message["content"]))
    refusal = message.get("refusal")
    finish = FINISH_IN.get(choice.get("finish_reason") or "stop", "stop")
    if isinstance(refusal, str) and refusal:
        content.append(TextPart(text=refusal))
        finish = "content_filter"
    return ChatResponse(
        id=body.get("id") or "",
        model=body.get("model") or "",
        content=content,
        tool_calls=_tool_calls(message.get("tool_calls")),
        finish_reason=finish,
        usage=parse_usage(body.get("usage")),
        created=int(body.get("created") or time.time()),
        raw=body,
        raw_family="openai",
    )


def encode_response(response: ChatResponse, provider: str) -> dict[str, Any]:
    """ChatResponse -> the chat.completion body an OpenAI client parses, naming the provider."""
    if response.raw_family == "openai" and response.raw is not None:
        body = {**response.raw, "provider": provider}
        if response.usage.cache_tier:
            body["usage"] = {**(body.get("usage") or {}), "cache_tier": response.usage.cache_tier}
        return body
    message: dict[str, Any] = {"role": "assistant", "content": response.text() or None}
    thinking = "".join(p.text for p in response.content if isinstance(p, ThinkingPart))
    if thinking:
        message["reasoning_content"] = thinking
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    return {
        "id": response.id or "chatcmpl-proxy",
        "object": "chat.completion",
        "created": response.created or int(time.time()),
        "model": response.model,
        "provider": provider,
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason,
                     "logprobs": None}],
        "usage": encode_usage(response.usage),
    }
