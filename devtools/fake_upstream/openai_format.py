"""OpenAI chat-completions wire format: request parsing, replies, stream chunks, errors."""

from __future__ import annotations

import time
from typing import Any

import orjson

from devtools.fake_upstream.replies import (
    Prompt,
    Reply,
    Tool,
    count_words,
    json_fragments,
    text_chunks,
)

StreamEvent = tuple[bytes, bool]

FINISH = {
    "stop": "stop",
    "length": "length",
    "tool": "tool_calls",
    "stop_sequence": "stop",
    "refusal": "content_filter",
}

ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("authentication_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("not_found_error", "model_not_found"),
    409: ("conflict_error", None),
    422: ("invalid_request_error", None),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}

DONE = b"data: [DONE]\n\n"


def content_text(content: Any) -> str:
    """Text of a message ``content``: a string or a list of ``{"type":"text"}`` parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif isinstance(part, str):
                texts.append(part)
        return " ".join(texts)
    return ""


def json_format(prompt: Prompt, spec: Any) -> None:
    """JSON mode from ``response_format`` (or a Responses ``text.format``: the schema inline)."""
    if not isinstance(spec, dict) or spec.get("type") not in ("json_object", "json_schema"):
        return
    prompt.json_mode = True
    schema = spec.get("schema", (spec.get("json_schema") or {}).get("schema"))
    prompt.json_schema = schema if isinstance(schema, dict) else None


def _tools(body: dict[str, Any]) -> list[Tool]:
    tools: list[Tool] = []
    for item in body.get("tools") or ():
        if not isinstance(item, dict):
            continue
        func = item["function"] if isinstance(item.get("function"), dict) else item
        name = func.get("name")
        if isinstance(name, str) and name:
            tools.append(Tool(name, func.get("parameters") or {}))
    for func in body.get("functions") or ():
        if isinstance(func, dict) and func.get("name"):
            tools.append(Tool(func["name"], func.get("parameters") or {}))
    return tools


def _tool_choice(prompt: Prompt, choice: Any) -> None:
    if choice is None:
        choice = "auto"
    if isinstance(choice, str):
        prompt.tool_choice = choice if choice in ("none", "required") else "auto"
    elif isinstance(choice, dict):
        func = choice.get("function")
        name = func.get("name") if isinstance(func, dict) else choice.get("name")
        if isinstance(name, str):
            prompt.tool_choice, prompt.forced_tool = "forced", name


def parse(body: dict[str, Any]) -> Prompt:
    """Reduce a chat-completions request body to a :class:`Prompt`."""
    prompt = Prompt(model=str(body.get("model") or "fake-model"))
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = []
    words = 0
    last_user = ""
    trailing_tool: list[str] = []
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text = content_text(message.get("content"))
        words += count_words(text)
        if role in ("tool", "function"):
            trailing_tool.append(text)
            prompt.seen_tool_result = True
            continue
        trailing_tool = []
        if role == "user":
            last_user = text
    prompt.input_words = words
    last_role = messages[-1].get("role") if messages and isinstance(messages[-1], dict) else "user"
    if last_role in ("tool", "function"):
        prompt.tool_result = " ".join(trailing_tool)
    else:
        prompt.user_text = last_user
        prompt.last_is_user = last_role == "user"
    prompt.tools = _tools(body)
    _tool_choice(prompt, body.get("tool_choice", body.get("function_call")))
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    prompt.max_tokens = limit if isinstance(limit, int) else None
    stop = body.get("stop")
    prompt.stop = [stop] if isinstance(stop, str) else [s for s in stop or () if isinstance(s, str)]
    prompt.stream = bool(body.get("stream"))
    json_format(prompt, body.get("response_format"))
    options = body.get("stream_options")
    prompt.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
    return prompt


def usage(reply: Reply) -> dict[str, Any]:
    """The OpenAI usage object; cached tokens count inside ``prompt_tokens``."""
    prompt_tokens = reply.input_tokens + reply.cached_tokens
    completion = reply.output_tokens + reply.reasoning_tokens
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion,
        "total_tokens": prompt_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reply.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_call_json(call: Any) -> dict[str, Any]:
    return {
        "id": f"call_{call.index}",
        "type": "function",
        "function": {"name": call.name, "arguments": call.args_json},
    }


def render(prompt: Prompt, reply: Reply, reply_id: int) -> bytes:
    """The non-streaming ``chat.completion`` body."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": None if reply.tool_calls else reply.text,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call_json(call) for call in reply.tool_calls]
    return orjson.dumps(
        {
            "id": f"chatcmpl-fake-{reply_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": prompt.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": FINISH[reply.finish],
                }
            ],
            "usage": usage(reply),
            "system_fingerprint": "fp_fake",
        }
    )


def stream_events(prompt: Prompt, reply: Reply, reply_id: int) -> list[StreamEvent]:
    """SSE ``chat.completion.chunk`` events (``True`` marks content chunks)."""
    base = {
        "id": f"chatcmpl-fake-{reply_id}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": prompt.model,
        "system_fingerprint": "fp_fake",
    }
    with_usage = prompt.include_usage

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        data = {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
        if with_usage:
            data["usage"] = None
        return b"data: " + orjson.dumps(data) + b"\n\n"

    events: list[StreamEvent] = [(chunk({"role": "assistant", "content": ""}), False)]
    for piece in text_chunks(reply.text):
        events.append((chunk({"content": piece}), True))
    for pos, call in enumerate(reply.tool_calls):
        head = {
            "index": pos,
            "id": f"call_{call.index}",
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append((chunk({"tool_calls": [head]}), True))
        for fragment in json_fragments(call.args_json):
            delta = {"tool_calls": [{"index": pos, "function": {"arguments": fragment}}]}
            events.append((chunk(delta), True))
    events.append((chunk({}, FINISH[reply.finish]), False))
    if with_usage:
        final = {**base, "choices": [], "usage": usage(reply)}
        events.append((b"data: " + orjson.dumps(final) + b"\n\n", False))
    events.append((DONE, False))
    return events


def error_body(status: int, message: str) -> bytes:
    """``{"error": {"message", "type", "param", "code"}}``."""
    kind, code = ERROR_TYPES.get(status, ("server_error" if status >= 500 else "invalid_request_error", None))
    return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})


def models_body(model_ids: list[str]) -> bytes:
    """``GET /v1/models`` list."""
    data = [{"id": mid, "object": "model", "created": 1700000000, "owned_by": "fake"} for mid in model_ids]
    return orjson.dumps({"object": "list", "data": data})


def model_body(model_id: str) -> bytes:
    """``GET /v1/models/{id}``."""
    return orjson.dumps({"id": model_id, "object": "model", "created": 1700000000, "owned_by": "fake"})
