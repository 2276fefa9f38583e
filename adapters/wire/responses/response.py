"""A domain `ChatResponse` → the Responses API `response` object (and the error body)."""

from __future__ import annotations

from typing import Any

import orjson

from adapters.wire.responses.request import SIGNATURE_PREFIX, ResponsesContext, ToolOrigin
from domain.chat import ChatResponse, FinishReason, TextPart, ThinkingPart, ToolCall, Usage

# Request fields a `response` object echoes back, with the value OpenAI reports when absent.
_ECHOED: dict[str, Any] = {
    "instructions": None, "max_output_tokens": None, "metadata": {}, "parallel_tool_calls": True,
    "previous_response_id": None, "prompt_cache_key": None, "reasoning": {"effort": None, "summary": None},
    "temperature": 1.0, "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [],
    "top_p": 1.0, "truncation": "disabled", "user": None, "service_tier": "auto", "background": False,
}
_INCOMPLETE: dict[FinishReason, str] = {"length": "max_output_tokens", "content_filter": "content_filter"}


def status_of(finish: FinishReason) -> str:
    return "incomplete" if finish in _INCOMPLETE else "completed"


def encode_usage(usage: Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "input_tokens_details": {"cached_tokens": usage.cache_read_tokens,
                                 "cache_write_tokens": usage.cache_write_tokens},
        "output_tokens": usage.output_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.total_tokens,
    }


def envelope(context: ResponsesContext, response_id: str, model: str, created_at: int, status: str) -> dict[str, Any]:
    """The `response` object without output: what `response.created` carries."""
    body = context.body
    out: dict[str, Any] = {
        "id": response_id, "object": "response", "created_at": created_at, "status": status,
        "error": None, "incomplete_details": None, "model": model, "output": [], "usage": None,
        "store": context.store,
    }
    for key, default in _ECHOED.items():
        value = body.get(key)
        out[key] = default if value is None else value
    return out


def reasoning_item(item_id: str, part: ThinkingPart, context: ResponsesContext) -> dict[str, Any]:
    item: dict[str, Any] = {"id": item_id, "type": "reasoning", "status": "completed",
                            "summary": [{"type": "summary_text", "text": part.text}] if part.text else []}
    if context.wants_encrypted_reasoning and part.signature:
        item["encrypted_content"] = encrypted_content(part)
    return item


def encrypted_content(part: ThinkingPart) -> str:
    """OpenAI's own encrypted content is returned as is; another family's signature is tagged."""
    if part.signed_by in (None, "openai"):
        return part.signature or ""
    return f"{SIGNATURE_PREFIX}{part.signed_by}.{part.signature}"


def message_item(item_id: str, text: str, status: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": status,
            "content": [output_text(text)]}


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(item_id: str, call: ToolCall, context: ResponsesContext, status: str = "completed") -> dict[str, Any]:
    """A tool call under the client's own name: namespaced and custom tools restored."""
    origin = context.tools.get(call.name) or ToolOrigin(kind="function", name=call.name)
    item: dict[str, Any] = {"id": item_id, "call_id": call.id, "name": origin.name, "status": status}
    if origin.namespace:
        item["namespace"] = origin.namespace
    if origin.kind == "custom":
        item.update(type="custom_tool_call", input=_custom_input(call.arguments))
    else:
        item.update(type="function_call", arguments=call.arguments)
    return item


def _custom_input(arguments: str) -> str:
    try:
        value = orjson.loads(arguments or "{}")
    except orjson.JSONDecodeError:
        return arguments
    return str(value.get("input", "")) if isinstance(value, dict) else arguments


def output_items(response: ChatResponse, context: ResponsesContext, item_ids: list[str]) -> list[dict[str, Any]]:
    """Reasoning, then the message, then the calls; `item_ids` supplies one id per item, in order."""
    ids = iter(item_ids)
    items: list[dict[str, Any]] = []
    for part in response.content:
        if isinstance(part, ThinkingPart):
            items.append(reasoning_item(next(ids), part, context))
    text = "".join(p.text for p in response.content if isinstance(p, TextPart))
    if text or not response.tool_calls:
        items.append(message_item(next(ids), text))
    items.extend(call_item(next(ids), call, context) for call in response.tool_calls)
    return items


def item_count(response: ChatResponse) -> int:
    """How many ids `output_items` takes."""
    thinking = sum(isinstance(p, ThinkingPart) for p in response.content)
    has_text = any(isinstance(p, TextPart) and p.text for p in response.content)
    return thinking + (1 if has_text or not response.tool_calls else 0) + len(response.tool_calls)


def encode_response(response: ChatResponse, context: ResponsesContext, *, response_id: str, created_at: int,
                    item_ids: list[str]) -> dict[str, Any]:
    out = envelope(context, response_id, response.model, created_at, status_of(response.finish_reason))
    reason = _INCOMPLETE.get(response.finish_reason)
    out["incomplete_details"] = {"reason": reason} if reason else None
    out["output"] = output_items(response, context, item_ids)
    out["usage"] = encode_usage(response.usage)
    return out


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    """OpenAI's error shape, which the Responses API shares with chat completions."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 401:
        kind = "authentication_error"
    elif status == 429:
        kind = "rate_limit_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def failed(envelope_body: dict[str, Any], code: str, message: str) -> dict[str, Any]:
    """A `response` object that ended in an error (what `response.failed` carries)."""
    return {**envelope_body, "status": "failed", "error": {"code": code, "message": message}}
