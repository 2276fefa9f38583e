"""Anthropic Messages wire format: request parsing, replies, SSE events, errors."""

from __future__ import annotations

from typing import Any

import orjson

from devtools.fake_upstream.replies import (
    THINKING_SIGNATURE,
    Prompt,
    Reply,
    Tool,
    as_text,
    count_words,
    json_fragments,
    text_chunks,
)

StreamEvent = tuple[bytes, bool]

STOP_REASON = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool": "tool_use",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def _block_text(block: Any) -> str:
    """Text of a text block or a tool_result's content (string or blocks)."""
    if isinstance(block, str):
        return block
    if not isinstance(block, dict):
        return ""
    kind = block.get("type")
    if kind == "text":
        return str(block.get("text") or "")
    if kind == "tool_result":
        content = block.get("content")
        if isinstance(content, list):
            return " ".join(_block_text(item) for item in content)
        return as_text(content)
    return ""


def _message_parts(content: Any) -> tuple[str, list[str]]:
    """(text of the text blocks, texts of the tool_result blocks) of a message."""
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    results: list[str] = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict) and block.get("type") == "tool_result":
            results.append(_block_text(block))
        else:
            texts.append(_block_text(block))
    return " ".join(texts), results


def _tool_choice(prompt: Prompt, choice: Any) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind == "none":
        prompt.tool_choice = "none"
    elif kind == "any":
        prompt.tool_choice = "required"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        prompt.tool_choice, prompt.forced_tool = "forced", choice["name"]


def parse(body: dict[str, Any]) -> Prompt:
    """Reduce a Messages request body to a :class:`Prompt`."""
    prompt = Prompt(model=str(body.get("model") or "fake-model"))
    system = body.get("system")
    words = count_words(system if isinstance(system, str) else _message_parts(system)[0])
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = []
    last_user = ""
    last_results: list[str] = []
    last_role = "user"
    for message in messages:
        if not isinstance(message, dict):
            continue
        text, results = _message_parts(message.get("content"))
        words += count_words(text) + sum(count_words(r) for r in results)
        last_role = message.get("role") or "user"
        if last_role == "user":
            last_user, last_results = text, results
        prompt.seen_tool_result = prompt.seen_tool_result or bool(results)
    prompt.input_words = words
    prompt.last_is_user = last_role == "user"
    prompt.user_text = last_user
    if last_results and prompt.last_is_user:
        prompt.tool_result = " ".join(last_results)
    prompt.tools = [
        Tool(tool["name"], tool.get("input_schema") or {})
        for tool in body.get("tools") or ()
        if isinstance(tool, dict) and isinstance(tool.get("name"), str) and "input_schema" in tool
    ]
    _tool_choice(prompt, body.get("tool_choice"))
    limit = body.get("max_tokens")
    prompt.max_tokens = limit if isinstance(limit, int) else None
    prompt.stop = [s for s in body.get("stop_sequences") or () if isinstance(s, str)]
    prompt.stream = bool(body.get("stream"))
    for spec in (body.get("output_format"), (body.get("output_config") or {}).get("format")):
        if isinstance(spec, dict) and spec.get("type") == "json_schema":
            prompt.json_mode = True
            prompt.json_schema = spec.get("schema") if isinstance(spec.get("schema"), dict) else None
    thinking = body.get("thinking")
    prompt.thinking = isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")
    return prompt


def count_tokens(body: dict[str, Any]) -> bytes:
    """``POST /v1/messages/count_tokens``: the uncached input word count."""
    return orjson.dumps({"input_tokens": max(1, parse(body).input_words)})


def usage(reply: Reply) -> dict[str, Any]:
    """Anthropic usage: ``input_tokens`` excludes cache reads, output includes thinking."""
    return {
        "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens + reply.reasoning_tokens,
        "cache_read_input_tokens": reply.cached_tokens,
        "cache_creation_input_tokens": 0,
        "output_tokens_details": {"thinking_tokens": reply.reasoning_tokens},
    }


def _blocks(reply: Reply) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.thinking:
        blocks.append({"type": "thinking", "thinking": reply.thinking, "signature": THINKING_SIGNATURE})
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append({"type": "tool_use", "id": f"toolu_{call.index}", "name": call.name, "input": call.args})
    return blocks


def _message(prompt: Prompt, reply_id: int) -> dict[str, Any]:
    return {
        "id": f"msg_fake_{reply_id}",
        "type": "message",
        "role": "assistant",
        "model": prompt.model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
    }


def render(prompt: Prompt, reply: Reply, reply_id: int) -> bytes:
    """The non-streaming Message body."""
    message = _message(prompt, reply_id)
    message["content"] = _blocks(reply)
    message["stop_reason"] = STOP_REASON[reply.finish]
    message["stop_sequence"] = reply.stop_sequence
    message["usage"] = usage(reply)
    return orjson.dumps(message)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


PING = b'event: ping\ndata: {"type":"ping"}\n\n'


def stream_events(prompt: Prompt, reply: Reply, reply_id: int) -> list[StreamEvent]:
    """The real event sequence (``True`` marks content_block_delta events)."""
    start = _message(prompt, reply_id)
    start["usage"] = {**usage(reply), "output_tokens": 1}
    events: list[StreamEvent] = [(_event("message_start", {"type": "message_start", "message": start}), False)]
    blocks = _blocks(reply)
    if not blocks:
        events.append((PING, False))
    for index, block in enumerate(blocks):
        kind = block["type"]
        if kind == "thinking":
            opening: dict[str, Any] = {"type": "thinking", "thinking": "", "signature": ""}
            deltas = [{"type": "thinking_delta", "thinking": p} for p in text_chunks(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            opening = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in text_chunks(block["text"])]
        else:
            opening = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            args_json = orjson.dumps(block["input"]).decode()
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in json_fragments(args_json)]
        events.append(
            (
                _event(
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": opening},
                ),
                False,
            )
        )
        if index == 0:
            events.append((PING, False))
        for delta in deltas:
            data = {"type": "content_block_delta", "index": index, "delta": delta}
            events.append((_event("content_block_delta", data), True))
        events.append((_event("content_block_stop", {"type": "content_block_stop", "index": index}), False))
    final = {
        "type": "message_delta",
        "delta": {"stop_reason": STOP_REASON[reply.finish], "stop_sequence": reply.stop_sequence},
        "usage": usage(reply),
    }
    events.append((_event("message_delta", final), False))
    events.append((_event("message_stop", {"type": "message_stop"}), False))
    return events


def error_body(status: int, message: str) -> bytes:
    """``{"type": "error", "error": {"type", "message"}}``."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})


def models_body(model_ids: list[str]) -> bytes:
    """``GET /v1/models`` in Anthropic's shape (chosen when ``anthropic-version`` is sent)."""
    data = [
        {"type": "model", "id": mid, "display_name": mid, "created_at": "2024-01-01T00:00:00Z"} for mid in model_ids
    ]
    return orjson.dumps({"data": data, "has_more": False, "first_id": model_ids[0], "last_id": model_ids[-1]})
