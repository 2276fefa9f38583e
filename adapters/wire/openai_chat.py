"""OpenAI chat-completions requests <-> domain.chat.ChatRequest.

Used in both directions: inbound (a client's body to the domain) and outbound (the domain to an
OpenAI-compatible provider's body). Validation is hand-written: it runs on every request and
must stay cheap, and its messages name the offending field the way the OpenAI API does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from adapters.wire.base64_data import standard_base64
from adapters.wire.parsing import integer, invalid, number
from adapters.wire.untranslated import check_translation
from domain.chat import (
    ChatRequest,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    ToolChoice,
    Untranslated,
)
from domain.errors import InvalidRequest

_CODE = "invalid_value"

log = logging.getLogger(__name__)

# Body fields that configure the gateway itself and are never sent upstream.
GATEWAY_FIELDS = frozenset({"provider_configs", "fallback", "model_router", "prompt_cache"})
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_EFFORTS = frozenset({"minimal", "low", "medium", "high"})
# Content parts of the API the domain does not carry: dropped (with a note) when translating.
KNOWN_UNTRANSLATED_PARTS = frozenset({"input_audio", "file", "refusal"})


def _invalid(message: str, param: str) -> InvalidRequest:
    return invalid(message, param, _CODE)


def _content_parts(content: Any, param: str, untranslated: list[Untranslated]) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(text=content)] if content else []
    if not isinstance(content, list):
        raise _invalid("content must be a string or an array of content parts", param)
    parts: list[Part] = []
    for i, item in enumerate(content):
        if not isinstance(item, dict):
            raise _invalid("each content part must be an object", f"{param}[{i}]")
        kind = item.get("type")
        if kind == "text":
            parts.append(TextPart(text=str(item.get("text", "")), cache_control=item.get("cache_control")))
        elif kind == "image_url":
            image = item.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise _invalid("image_url.url is required", f"{param}[{i}].image_url")
            detail = image.get("detail") if isinstance(image, dict) else None
            parts.append(image_from_url(url, detail))
        else:
            untranslated.append(Untranslated(f"{param}[{i}]", kind if isinstance(kind, str) else "<no type>",
                                             known=kind in KNOWN_UNTRANSLATED_PARTS))
    return parts


def image_from_url(url: str, detail: str | None = None) -> ImagePart:
    """`data:image/png;base64,...` becomes inline data; anything else stays a URL."""
    if url.startswith("data:") and ";base64," in url:
        header, data = url[5:].split(";base64,", 1)
        return ImagePart(data=data, media_type=header or "image/png", detail=detail)
    return ImagePart(url=url, detail=detail)


def image_to_url(part: ImagePart) -> str:
    if part.data is not None:
        return f"data:{part.media_type or 'image/png'};base64,{standard_base64(part.data)}"
    return part.url or ""


def _tool_calls(raw: Any, param: str) -> list[ToolCall]:
    if not raw:
        return []
    if not isinstance(raw, list):
        raise _invalid("tool_calls must be an array", param)
    calls = []
    for i, item in enumerate(raw):
        fn = item.get("function") if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise _invalid("tool_calls[].function.name is required", f"{param}[{i}]")
        args = fn.get("arguments", "")
        calls.append(ToolCall(id=str(item.get("id") or f"call_{i}"), name=fn["name"],
                              arguments=args if isinstance(args, str) else "{}"))
    return calls


def _messages(raw: Any, untranslated: list[Untranslated]) -> tuple[list[TextPart], list[Message]]:
    if not isinstance(raw, list) or not raw:
        raise _invalid("messages must be a non-empty array", "messages")
    system: list[TextPart] = []
    messages: list[Message] = []
    for i, item in enumerate(raw):
        param = f"messages[{i}]"
        if not isinstance(item, dict):
            raise _invalid("each message must be an object", param)
        role = item.get("role")
        if role not in _ROLES:
            raise _invalid(f"invalid role {role!r}", f"{param}.role")
        parts = _content_parts(item.get("content"), f"{param}.content", untranslated)
        if role in ("system", "developer"):
            system.extend(p for p in parts if isinstance(p, TextPart))
        elif role in ("tool", "function"):
            messages.append(Message(role="tool", content=parts, tool_call_id=item.get("tool_call_id"),
                                    name=item.get("name")))
        elif role == "assistant":
            reasoning = item.get("reasoning_content")
            if isinstance(reasoning, str) and reasoning:
                parts.insert(0, ThinkingPart(text=reasoning))
            messages.append(Message(role="assistant", content=parts,
                                    tool_calls=_tool_calls(item.get("tool_calls"), f"{param}.tool_calls"),
                                    name=item.get("name")))
        else:
            messages.append(Message(role="user", content=parts, name=item.get("name")))
    return system, messages


def _tools(raw: Any) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("tools must be an array", "tools")
    tools = []
    for i, item in enumerate(raw):
        fn = item.get("function") if isinstance(item, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise _invalid("tools[].function.name is required", f"tools[{i}].function.name")
        params = fn.get("parameters")
        tools.append(Tool(name=fn["name"], description=fn.get("description"),
                          parameters=params if isinstance(params, dict) else {}))
    return tools


def _tool_choice(raw: Any, parallel: Any) -> ToolChoice | None:
    if raw is None and parallel is None:
        return None
    choice = ToolChoice(parallel=parallel if isinstance(parallel, bool) else None)
    if raw in ("auto", "none", "required"):
        choice.mode = raw
    elif isinstance(raw, dict) and isinstance(raw.get("function"), dict):
        choice.mode, choice.name = "tool", raw["function"].get("name")
    elif raw is not None:
        raise _invalid("tool_choice must be auto, none, required or a function", "tool_choice")
    return choice


def _response_format(raw: Any) -> ResponseFormat | None:
    if not isinstance(raw, dict):
        return None
    kind = raw.get("type")
    if kind == "json_object":
        return ResponseFormat(type="json_object")
    if kind == "json_schema":
        spec = raw.get("json_schema") or {}
        return ResponseFormat(type="json_schema", schema=spec.get("schema"), name=spec.get("name"),
                              strict=spec.get("strict"))
    return ResponseFormat(type="text") if kind == "text" else None


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    return number(body.get(key), key, key, _CODE, low, high)


def _positive_int(body: dict[str, Any], key: str) -> int | None:
    return integer(body.get(key), key, key, _CODE)


def parse_request(body: dict[str, Any]) -> ChatRequest:
    """A client's chat-completions body -> ChatRequest (raises InvalidRequest naming the field)."""
    model = body.get("model", "")
    if model is None:
        model = ""
    if not isinstance(model, str):
        raise _invalid("model must be a string", "model")
    untranslated: list[Untranslated] = []
    system, messages = _messages(body.get("messages"), untranslated)
    stop = body.get("stop")
    stream_options = body.get("stream_options")
    effort = body.get("reasoning_effort")
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        tools=_tools(body.get("tools")),
        tool_choice=_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls")),
        max_tokens=_positive_int(body, "max_completion_tokens") or _positive_int(body, "max_tokens"),
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        top_k=_positive_int(body, "top_k"),
        stop=[stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str)],
        stream=bool(body.get("stream")),
        include_usage=bool(isinstance(stream_options, dict) and stream_options.get("include_usage")),
        n=_positive_int(body, "n") or 1,
        seed=body.get("seed") if isinstance(body.get("seed"), int) else None,
        response_format=_response_format(body.get("response_format")),
        reasoning_effort=effort if effort in _EFFORTS else None,
        user=body.get("user") if isinstance(body.get("user"), str) else None,
        metadata=metadata if isinstance(metadata := body.get("metadata"), dict) else {},
        raw=body,
        raw_family="openai",
        untranslated=untranslated,
    )


# --- outbound ------------------------------------------------------------------------------


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
        body = {k: v for k, v in request.raw.items() if k not in GATEWAY_FIELDS}
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
