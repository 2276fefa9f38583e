"""domain.chat.ChatRequest -> the body sent to an OpenAI-compatible provider's /chat/completions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from adapters.wire.base64_data import standard_base64
from adapters.wire.untranslated import check_translation
from application.request_config import OVERRIDE_FIELDS
from domain.chat import ChatRequest, ImagePart, Message, Part, TextPart, ThinkingPart

log = logging.getLogger(__name__)

def image_to_url(part: ImagePart) -> str:
    if part.data is not None:
        return f"data:{part.media_type or 'image/png'};base64,{standard_base64(part.data)}"
    return part.url or ""



def _wire_parts(parts: Sequence[Part]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            out.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            image: dict[str, Any] = {"url": image_to_url(p)}
            if p.detail:
                image["detail"] = p.detail
            out.append({"type": "image_url", "image_url": image})
    return out


def _wire_message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": _wire_parts(m.content)}
    visible = [p for p in m.content if not isinstance(p, ThinkingPart)]
    out: dict[str, Any] = {"role": m.role, "content": _wire_parts(visible)}
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
        if not visible:
            out["content"] = None
    if m.name and m.role == "user":
        out["name"] = m.name
    return out


def build_request(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The body to send an OpenAI-compatible provider for `request`, aimed at `model`."""
    if request.raw_family == "openai" and request.raw is not None:
        body = {k: v for k, v in request.raw.items() if k not in OVERRIDE_FIELDS}
    else:
        check_translation(request, "openai")
        body = _translated_body(request)
    body["model"] = model
    if stream:
        body["stream"] = True
        # Always ask for usage: metering needs it even when the client did not.
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
    else:
        body.pop("stream", None)
        body.pop("stream_options", None)
    return body


# OpenAI refuses `json_object` unless the messages mention JSON; a translated JSON mode (Gemini
# `responseMimeType: application/json`) may not, so the system prompt then says it.
JSON_MODE_NOTE = "Respond in JSON."


def _translated_body(request: ChatRequest) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    system = [p.text for p in request.system]
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object" and "json" not in request.prompt_text().lower():
        system.append(JSON_MODE_NOTE)
    if system:
        messages.append({"role": "system", "content": "\n\n".join(system)})
    messages.extend(_wire_message(m) for m in request.messages)
    body: dict[str, Any] = {"messages": messages}
    if request.tools:
        body["tools"] = [
            {"type": "function", "function": {"name": t.name, "description": t.description or "",
                                              "parameters": t.parameters or {"type": "object"}}}
            for t in request.tools
        ]
    choice = request.tool_choice
    if choice is not None:
        if choice.mode == "tool":
            body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
        elif request.tools or choice.mode == "none":
            body["tool_choice"] = choice.mode
        if choice.parallel is not None and request.tools:
            body["parallel_tool_calls"] = choice.parallel
    optional = {
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "user": request.user,
        "reasoning_effort": request.reasoning_effort,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if request.stop:
        body["stop"] = request.stop
    if request.n != 1:
        body["n"] = request.n
    if request.top_k is not None:
        log.debug("dropping top_k: not part of the OpenAI chat-completions API")
    if fmt is not None and fmt.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema":
        spec: dict[str, Any] = {"name": fmt.name or "response", "schema": fmt.schema or {}}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    return body
