"""An OpenAI chat-completions client body -> domain.chat.ChatRequest.

Validation is hand-written: it runs on every request and
must stay cheap, and its messages name the offending field the way the OpenAI API does.
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.wire.parsing import integer, invalid, number
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
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise _invalid("each content part must be an object with a type", f"{param}[{i}]")
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



def _tool_calls(raw: Any, param: str) -> list[ToolCall]:
    if raw is None:
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
        if not isinstance(role, str) or role not in _ROLES:
            raise _invalid(f"invalid role {role!r}", f"{param}.role")
        for key in ("tool_call_id", "name"):
            if item.get(key) is not None and not isinstance(item[key], str):
                raise _invalid(f"{key} must be a string", f"{param}.{key}")
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
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise _invalid("response_format must be an object with a type", "response_format")
    kind = raw.get("type")
    if kind == "json_object":
        return ResponseFormat(type="json_object")
    if kind == "json_schema":
        spec = raw.get("json_schema")
        if not isinstance(spec, dict):
            raise _invalid("response_format.json_schema must be an object", "response_format.json_schema")
        return ResponseFormat(type="json_schema", schema=spec.get("schema"), name=spec.get("name"),
                              strict=spec.get("strict"))
    return ResponseFormat(type="text") if kind == "text" else None


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    return number(body.get(key), key, key, _CODE, low, high)


def _positive_int(body: dict[str, Any], key: str) -> int | None:
    return integer(body.get(key), key, key, _CODE)


def _stop(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not all(isinstance(s, str) for s in raw):
        raise _invalid("stop must be a string or an array of strings", "stop")
    return list(raw)


# Fields the domain does not model but an OpenAI-compatible provider receives as they are, by the
# type that provider requires.
_PASSTHROUGH_TYPES: dict[str, str] = {
    "frequency_penalty": "penalty", "presence_penalty": "penalty", "seed": "integer",
    **dict.fromkeys(("stream_options", "metadata", "logit_bias", "prediction", "audio", "web_search_options"),
                    "object"),
    **dict.fromkeys(("user", "service_tier", "reasoning_effort", "verbosity"), "string"),
    **dict.fromkeys(("stream", "logprobs", "parallel_tool_calls", "store"), "boolean"),
}
_TYPE_OF_KIND: dict[str, type] = {"object": dict, "string": str, "boolean": bool}


def _check_passthrough(body: dict[str, Any]) -> None:
    """The pass-through fields (`_PASSTHROUGH_TYPES`) refused here when the provider would refuse
    them. Most bodies carry none or one, so only the ones present are looked at."""
    present = body.keys() & _PASSTHROUGH_TYPES.keys()
    if not present:
        return
    for key, kind in _PASSTHROUGH_TYPES.items():
        if key not in present or (value := body[key]) is None:
            continue
        if kind == "penalty":
            number(value, key, key, _CODE, -2, 2)
        elif kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise _invalid(f"{key} must be an integer", key)
        elif not isinstance(value, _TYPE_OF_KIND[kind]):
            raise _invalid(f"{key} must be {'an' if kind == 'object' else 'a'} {kind}", key)


def parse_request(body: dict[str, Any]) -> ChatRequest:
    """A client's chat-completions body -> ChatRequest (raises InvalidRequest naming the field)."""
    model = body.get("model", "")
    if model is None:
        model = ""
    if not isinstance(model, str):
        raise _invalid("model must be a string", "model")
    untranslated: list[Untranslated] = []
    system, messages = _messages(body.get("messages"), untranslated)
    _check_passthrough(body)
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
        stop=_stop(body.get("stop")),
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
