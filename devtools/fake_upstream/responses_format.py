"""OpenAI Responses API wire format (``POST /v1/responses``): parsing, replies, typed events."""

from __future__ import annotations

import time
from typing import Any

import orjson

from devtools.fake_upstream.openai_format import error_body, json_format
from devtools.fake_upstream.replies import Prompt, Reply, Tool, count_words, json_fragments, text_chunks

__all__ = ["error_body", "parse", "render", "stream_events"]
StreamEvent = tuple[bytes, bool]
INCOMPLETE = {"length": "max_output_tokens", "refusal": "content_filter"}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and "text" in p)
    return ""


def parse(body: dict[str, Any]) -> Prompt:
    """Reduce a Responses request body (``input`` a string or items) to a :class:`Prompt`."""
    prompt = Prompt(model=str(body.get("model") or "fake-model"))
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    words = count_words(str(body.get("instructions") or ""))
    trailing: list[str] = []
    last = "user"
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        kind = item.get("type", "message")
        if kind == "function_call_output":
            output = item.get("output")
            trailing.append(output if isinstance(output, str) else _text(output))
            words += count_words(trailing[-1])
            prompt.seen_tool_result, last = True, "tool"
        elif kind == "message":
            text = _text(item.get("content"))
            words += count_words(text)
            last = str(item.get("role") or "user")
            if last == "user":
                prompt.user_text, trailing = text, []
        elif kind == "function_call":
            last, trailing = "assistant", []
    prompt.input_words = words
    prompt.last_is_user = last in ("user", "tool")
    if last == "tool":
        prompt.tool_result = " ".join(trailing)
    prompt.tools = _tools(body.get("tools"))
    choice = body.get("tool_choice")
    if choice in ("none", "required"):
        prompt.tool_choice = str(choice)
    elif isinstance(choice, dict) and choice.get("type") == "function":
        prompt.tool_choice, prompt.forced_tool = "forced", choice.get("name")
    limit = body.get("max_output_tokens")
    prompt.max_tokens = limit if isinstance(limit, int) else None
    prompt.stream = bool(body.get("stream"))
    json_format(prompt, (body.get("text") or {}).get("format"))
    prompt.thinking = isinstance(body.get("reasoning"), dict) and bool(body["reasoning"].get("summary"))
    return prompt


def _tools(raw: Any) -> list[Tool]:
    tools: list[Tool] = []
    for spec in raw if isinstance(raw, list) else []:
        if isinstance(spec, dict) and spec.get("type") == "function" and isinstance(spec.get("name"), str):
            tools.append(Tool(spec["name"], spec.get("parameters") or {}))
        elif isinstance(spec, dict) and spec.get("type") == "namespace":
            tools.extend(Tool(f"{spec.get('name')}.{t['name']}", t.get("parameters") or {})
                         for t in spec.get("tools") or () if isinstance(t, dict) and isinstance(t.get("name"), str))
    return tools


def usage(reply: Reply) -> dict[str, Any]:
    prompt_tokens = reply.input_tokens + reply.cached_tokens
    output = reply.output_tokens + reply.reasoning_tokens
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": reply.cached_tokens, "cache_write_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": reply.reasoning_tokens},
        "total_tokens": prompt_tokens + output,
    }


def _call_item(call: Any, status: str = "completed", arguments: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"id": f"fc_fake_{call.index}", "type": "function_call", "call_id": f"call_{call.index}",
                            "arguments": call.args_json if arguments is None else arguments, "status": status}
    namespace, dot, name = call.name.rpartition(".")  # namespaced tools are offered as "ns.name"
    item["name"] = name if dot else call.name
    if dot:
        item["namespace"] = namespace
    return item


def _message_item(text: str, status: str = "completed") -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
    return {"id": "msg_fake_1", "type": "message", "role": "assistant", "status": status,
            "content": content if status == "completed" else []}


def _reasoning_item(reply: Reply) -> dict[str, Any]:
    return {"id": "rs_fake_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": reply.thinking}],
            "encrypted_content": "ZmFrZS1yZWFzb25pbmc="}


def _output(reply: Reply) -> list[dict[str, Any]]:
    output = [_reasoning_item(reply)] if reply.thinking else []
    if reply.tool_calls:
        output.extend(_call_item(call) for call in reply.tool_calls)
    else:
        output.append(_message_item(reply.text))
    return output


def _response(prompt: Prompt, reply: Reply | None, reply_id: int) -> dict[str, Any]:
    status = "in_progress" if reply is None else ("incomplete" if reply.finish in INCOMPLETE else "completed")
    return {
        "id": f"resp_fake_{reply_id}", "object": "response", "created_at": int(time.time()), "status": status,
        "error": None, "model": prompt.model, "parallel_tool_calls": True, "tool_choice": "auto", "tools": [],
        "incomplete_details": {"reason": INCOMPLETE[reply.finish]} if reply and reply.finish in INCOMPLETE else None,
        "output": [] if reply is None else _output(reply), "usage": None if reply is None else usage(reply),
    }


def render(prompt: Prompt, reply: Reply, reply_id: int) -> bytes:
    return orjson.dumps(_response(prompt, reply, reply_id))


def stream_events(prompt: Prompt, reply: Reply, reply_id: int) -> list[StreamEvent]:
    """The typed event sequence; ``True`` marks content (delta) events."""
    events: list[StreamEvent] = []

    def emit(kind: str, content: bool = False, **fields: Any) -> None:
        data = {"type": kind, "sequence_number": len(events), **fields}
        events.append((b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n", content))

    emit("response.created", response=_response(prompt, None, reply_id))
    emit("response.in_progress", response=_response(prompt, None, reply_id))
    index = 0
    if reply.thinking:
        emit("response.output_item.added", output_index=0, item={**_reasoning_item(reply), "summary": []})
        emit("response.reasoning_summary_text.delta", True, item_id="rs_fake_1", output_index=0, summary_index=0,
             delta=reply.thinking)
        emit("response.output_item.done", output_index=0, item=_reasoning_item(reply))
        index = 1
    if not reply.tool_calls:
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        emit("response.output_item.added", output_index=index, item=_message_item("", "in_progress"))
        emit("response.content_part.added", item_id="msg_fake_1", output_index=index, content_index=0, part=part)
        for piece in text_chunks(reply.text):
            emit("response.output_text.delta", True, item_id="msg_fake_1", output_index=index, content_index=0,
                 delta=piece, logprobs=[])
        emit("response.output_text.done", item_id="msg_fake_1", output_index=index, content_index=0,
             text=reply.text, logprobs=[])
        emit("response.content_part.done", item_id="msg_fake_1", output_index=index, content_index=0,
             part={**part, "text": reply.text})
        emit("response.output_item.done", output_index=index, item=_message_item(reply.text))
    for pos, call in enumerate(reply.tool_calls, start=index):
        item_id = f"fc_fake_{call.index}"
        emit("response.output_item.added", output_index=pos, item=_call_item(call, "in_progress", ""))
        for fragment in json_fragments(call.args_json):
            emit("response.function_call_arguments.delta", True, item_id=item_id, output_index=pos, delta=fragment)
        emit("response.function_call_arguments.done", item_id=item_id, output_index=pos, arguments=call.args_json)
        emit("response.output_item.done", output_index=pos, item=_call_item(call))
    final = _response(prompt, reply, reply_id)
    emit("response.incomplete" if final["status"] == "incomplete" else "response.completed", response=final)
    return events
