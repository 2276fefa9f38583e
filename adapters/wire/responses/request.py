"""A Responses API request body → a domain `ChatRequest` and the context its answer needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from application.request_config import OVERRIDE_FIELDS
from domain.chat import (
    ChatRequest,
    Family,
    ImagePart,
    Message,
    Part,
    ReasoningEffort,
    ResponseFormat,
    TextPart,
    ThinkingPart,
    Tool,
    ToolCall,
    ToolChoice,
)
from domain.errors import InvalidRequest

ToolKind = Literal["function", "custom"]
# encrypted_content the gateway issued for a non-OpenAI provider's signature: "adaptive.<family>.<sig>".
SIGNATURE_PREFIX = "adaptive."
_FAMILIES: frozenset[str] = frozenset({"openai", "anthropic", "gemini"})
_EFFORTS: dict[str, ReasoningEffort | None] = {
    "none": None, "minimal": "minimal", "low": "low", "medium": "medium", "high": "high", "xhigh": "high",
}
_NAMESPACE_JOIN = "__"
# Not sent to a provider that has the Responses API: the gateway's own fields, and
# previous_response_id (the gateway keeps conversations: the history goes as input items).
_NOT_FORWARDED = OVERRIDE_FIELDS | {"previous_response_id"}
# A custom (free-form) tool is offered to non-Responses providers as a function with one string.
_CUSTOM_PARAMETERS = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}


@dataclass(slots=True, frozen=True)
class ToolOrigin:
    """Where a flattened tool name came from, so calls are given back under the client's names."""

    kind: ToolKind
    name: str
    namespace: str | None = None


@dataclass(slots=True)
class ResponsesContext:
    body: dict[str, Any]
    tools: dict[str, ToolOrigin] = field(default_factory=dict)
    dropped_tools: list[str] = field(default_factory=list)  # hosted tool types no provider here runs
    include: frozenset[str] = frozenset()
    store: bool = True
    previous_response_id: str | None = None
    input_items: list[dict[str, Any]] = field(default_factory=list)  # the input, as items
    required_hosted: str | None = None  # a hosted tool `tool_choice` requires (only a passthrough runs it)

    @property
    def wants_encrypted_reasoning(self) -> bool:
        return "reasoning.encrypted_content" in self.include

    def notes(self) -> list[str]:
        return [f"responses: hosted tool {kind} dropped (the provider cannot run it)" for kind in self.dropped_tools]


def hosted_choice_refused(context: ResponsesContext) -> InvalidRequest:
    return invalid(f"tool_choice requires the hosted tool {context.required_hosted}, which the gateway cannot run "
                   "here (only a provider:model with the Responses API, passed through, runs hosted tools)",
                   "tool_choice")


def invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_value")


def input_items(raw: Any) -> list[dict[str, Any]]:
    """`input` as a list of items (a plain string is one user message)."""
    if raw is None:
        return []
    if isinstance(raw, str):
        return [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": raw}]}]
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise invalid("input must be a string or an array of input items", "input")
    return list(raw)


def flat_name(name: str, namespace: str | None) -> str:
    return f"{namespace}{_NAMESPACE_JOIN}{name}" if namespace else name


def parse_request(
    body: dict[str, Any], history: list[dict[str, Any]] | None = None,
) -> tuple[ChatRequest, ResponsesContext]:
    """Translate a Responses body; `history` holds the stored items `previous_response_id` names."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("model must be a string", "model")
    include = body.get("include") or []
    if not isinstance(include, list):
        raise invalid("include must be an array of strings", "include")
    context = ResponsesContext(
        body=body,
        include=frozenset(str(i) for i in include),
        store=body.get("store") is not False,
        previous_response_id=_optional_str(body, "previous_response_id"),
        input_items=input_items(body.get("input")),
    )
    tools = _tools(body.get("tools"), context)
    system: list[TextPart] = []
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise invalid("instructions must be a string", "instructions")
    if instructions:
        system.append(TextPart(text=instructions))
    messages = _messages([*(history or []), *context.input_items], system, context)
    request = ChatRequest(
        model=model or "",
        messages=messages,
        system=system,
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"), context),
        max_tokens=_positive_int(body, "max_output_tokens"),
        temperature=_number(body, "temperature", 0, 2),
        top_p=_number(body, "top_p", 0, 1),
        stream=body.get("stream") is True,
        include_usage=True,
        response_format=_text_format(body.get("text")),
        reasoning_effort=_effort(body.get("reasoning")),
        user=_optional_str(body, "user") or _optional_str(body, "safety_identifier"),
        metadata=_metadata(body.get("metadata")),
    )
    if not request.messages:
        raise invalid("input must hold at least one message", "input")
    # Kept for providers that have the Responses API (adapters/wire/responses/upstream.py).
    request.raw, request.raw_family = passthrough_body(body, history or [], context.input_items), "responses"
    return request, context


def passthrough_body(body: dict[str, Any], history: list[dict[str, Any]],
                     input_items: list[dict[str, Any]]) -> dict[str, Any]:
    """The body a provider that has the Responses API gets (before the model is set): the
    stored history, made safe to send to any such provider, then the client's own input."""
    out = {k: v for k, v in body.items() if k not in _NOT_FORWARDED}
    if history:
        out["input"] = [*(_history_item(item) for item in history if _forwardable(item)), *input_items]
    return out


def _forwardable(item: dict[str, Any]) -> bool:
    """Reasoning is sent back only as OpenAI's own encrypted content: another provider's
    signature (tagged `adaptive.`) or a reasoning item without content would be refused."""
    if item.get("type") != "reasoning":
        return True
    encrypted = item.get("encrypted_content")
    return isinstance(encrypted, str) and bool(encrypted) and not encrypted.startswith(SIGNATURE_PREFIX)


def _history_item(item: dict[str, Any]) -> dict[str, Any]:
    """Stored output items as input: the ids the gateway issued mean nothing upstream (reasoning
    items keep theirs: their encrypted content is bound to it)."""
    if item.get("type") == "reasoning":
        return {k: v for k, v in item.items() if k != "status"}
    return {k: v for k, v in item.items() if k not in ("id", "status")}


def _metadata(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise invalid("metadata must be an object of strings", "metadata")
    return raw


def _optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"{key} must be a string", key)
    return value or None


def _number(body: dict[str, Any], key: str, low: float, high: float) -> float | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise invalid(f"{key} must be a number between {low:g} and {high:g}", key)
    return float(value)


def _positive_int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise invalid(f"{key} must be a positive integer", key)
    return value


def _effort(raw: Any) -> ReasoningEffort | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise invalid("reasoning must be an object", "reasoning")
    effort = raw.get("effort")
    if effort is None:
        return None
    if not isinstance(effort, str) or effort not in _EFFORTS:
        raise invalid("reasoning.effort must be none, minimal, low, medium, high or xhigh", "reasoning.effort")
    return _EFFORTS[effort]


def _text_format(raw: Any) -> ResponseFormat | None:
    if raw is None:
        return None
    spec = raw.get("format") if isinstance(raw, dict) else None
    if not isinstance(spec, dict):
        return None
    kind = spec.get("type")
    if kind == "json_object":
        return ResponseFormat(type="json_object")
    if kind == "json_schema":
        if not isinstance(spec.get("schema"), dict):
            raise invalid("text.format.schema must be a JSON Schema object", "text.format.schema")
        return ResponseFormat(type="json_schema", schema=spec["schema"], name=spec.get("name"),
                              strict=spec.get("strict"))
    if kind == "text":
        return ResponseFormat(type="text")
    raise invalid("text.format.type must be text, json_object or json_schema", "text.format.type")


def _tools(raw: Any, context: ResponsesContext) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise invalid("tools must be an array", "tools")
    tools: list[Tool] = []
    for i, spec in enumerate(raw):
        if not isinstance(spec, dict):
            raise invalid("each tool must be an object", f"tools[{i}]")
        kind = spec.get("type")
        if kind == "namespace":
            inner = spec.get("tools")
            if not isinstance(inner, list) or not isinstance(spec.get("name"), str):
                raise invalid("a namespace tool needs a name and tools", f"tools[{i}]")
            for j, member in enumerate(inner):
                tools.append(_tool(member, f"tools[{i}].tools[{j}]", spec["name"], context))
        elif kind in ("function", "custom"):
            tools.append(_tool(spec, f"tools[{i}]", None, context))
        else:
            context.dropped_tools.append(str(kind))
    return tools


def _tool(spec: Any, param: str, namespace: str | None, context: ResponsesContext) -> Tool:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
        raise invalid("a function tool needs a name", param)
    kind: ToolKind = "custom" if spec.get("type") == "custom" else "function"
    name = flat_name(spec["name"], namespace)
    context.tools[name] = ToolOrigin(kind=kind, name=spec["name"], namespace=namespace)
    if kind == "custom":
        return Tool(name=name, description=spec.get("description"), parameters=dict(_CUSTOM_PARAMETERS))
    parameters = spec.get("parameters")
    return Tool(name=name, description=spec.get("description"),
                parameters=parameters if isinstance(parameters, dict) else {"type": "object", "properties": {}})


def _tool_choice(raw: Any, parallel: Any, context: ResponsesContext) -> ToolChoice | None:
    if raw is None and parallel is None:
        return None
    choice = ToolChoice(parallel=parallel if isinstance(parallel, bool) else None)
    if raw in ("auto", "none", "required") or raw is None:
        choice.mode = raw or "auto"
    elif isinstance(raw, dict) and raw.get("type") in ("function", "custom"):
        name = flat_name(str(raw.get("name") or ""), raw.get("namespace"))
        if name not in context.tools:
            raise invalid(f"tool_choice names {name!r}, which is not in tools", "tool_choice")
        choice.mode, choice.name = "tool", name
    elif isinstance(raw, dict) and raw.get("type") == "allowed_tools":
        choice.mode = "required" if raw.get("mode") == "required" else "auto"
    elif isinstance(raw, dict) and isinstance(raw.get("type"), str):
        context.required_hosted = raw["type"]  # refused unless a passthrough provider is pinned
        choice.mode = "required"
    else:
        raise invalid("tool_choice must be auto, none, required or a tool", "tool_choice")
    return choice


def _messages(items: list[dict[str, Any]], system: list[TextPart], context: ResponsesContext) -> list[Message]:
    messages: list[Message] = []
    pending_thinking: list[Part] = []
    for i, item in enumerate(items):
        param = f"input[{i}]"
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            parts = _parts(item.get("content"), param)
            if role in ("system", "developer"):
                system.extend(p for p in parts if isinstance(p, TextPart))
            elif role == "user":
                messages.append(Message(role="user", content=parts))
            elif role == "assistant":
                _assistant(messages, pending_thinking).content.extend(parts)
                pending_thinking = []
            else:
                raise invalid("role must be user, assistant, system or developer", f"{param}.role")
        elif kind in ("function_call", "custom_tool_call"):
            _assistant(messages, pending_thinking).tool_calls.append(_call(item, param))
            pending_thinking = []
        elif kind in ("function_call_output", "custom_tool_call_output"):
            call_id = item.get("call_id")
            if not isinstance(call_id, str) or not call_id:
                raise invalid("call_id is required", f"{param}.call_id")
            output = item.get("output")
            content: list[Part] = [TextPart(text=output)] if isinstance(output, str) else _parts(output, param)
            messages.append(Message(role="tool", tool_call_id=call_id, content=content))
        elif kind == "reasoning":
            pending_thinking.append(_reasoning(item))
        # item_reference, hosted-tool calls and their outputs have no domain form: skipped.
    return messages


def _assistant(messages: list[Message], thinking: list[Part]) -> Message:
    """The assistant turn the next output item belongs to (a new one after any other role)."""
    if not messages or messages[-1].role != "assistant" or thinking:
        messages.append(Message(role="assistant", content=list(thinking)))
    return messages[-1]


def _call(item: dict[str, Any], param: str) -> ToolCall:
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not isinstance(name, str) or not call_id or not name:
        raise invalid("a function_call item needs call_id and name", param)
    name = flat_name(name, item.get("namespace"))
    if item.get("type") == "custom_tool_call":
        return ToolCall(id=call_id, name=name, arguments=orjson.dumps({"input": str(item.get("input", ""))}).decode())
    arguments = item.get("arguments")
    return ToolCall(id=call_id, name=name, arguments=arguments if isinstance(arguments, str) else "{}")


def _reasoning(item: dict[str, Any]) -> ThinkingPart:
    summary = item.get("summary") or []
    text = "".join(s.get("text", "") for s in summary if isinstance(s, dict))
    encrypted = item.get("encrypted_content")
    if not isinstance(encrypted, str) or not encrypted:
        return ThinkingPart(text=text)
    family, signature = _signature(encrypted)
    return ThinkingPart(text=text, signature=signature, signed_by=family)


def _signature(encrypted: str) -> tuple[Family, str]:
    if encrypted.startswith(SIGNATURE_PREFIX):
        family, _, signature = encrypted[len(SIGNATURE_PREFIX):].partition(".")
        if family in _FAMILIES and signature:
            return family, signature  # type: ignore[return-value]
    return "openai", encrypted


def _parts(content: Any, param: str) -> list[Part]:
    if content is None:
        return []
    if isinstance(content, str):
        return [TextPart(text=content)] if content else []
    if not isinstance(content, list):
        raise invalid("content must be a string or an array of content parts", f"{param}.content")
    parts: list[Part] = []
    for j, part in enumerate(content):
        if not isinstance(part, dict):
            raise invalid("each content part must be an object", f"{param}.content[{j}]")
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text", "summary_text"):
            parts.append(TextPart(text=str(part.get("text", ""))))
        elif kind == "input_image":
            parts.append(_image(part, f"{param}.content[{j}]"))
        elif kind == "refusal":
            parts.append(TextPart(text=str(part.get("refusal", ""))))
        # input_file and input_audio have no domain form yet: skipped.
    return parts


def _image(part: dict[str, Any], param: str) -> ImagePart:
    url = part.get("image_url")
    if not isinstance(url, str) or not url:
        raise invalid("input_image needs image_url (file_id is not supported)", param)
    detail = part.get("detail") if isinstance(part.get("detail"), str) else None
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return ImagePart(data=data, media_type=media_type or None, detail=detail)
    return ImagePart(url=url, detail=detail)
