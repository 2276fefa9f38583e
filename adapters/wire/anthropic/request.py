"""A client's Anthropic Messages body -> domain.chat.ChatRequest (the way back: anthropic_body).

Tool results, which Anthropic carries as `tool_result` blocks inside a user turn, become separate
`tool` messages (as in OpenAI), named after the `tool_use` they answer. `cache_control` markers
ride on TextPart/Tool; only anthropic_body writes them back, so other providers drop them cleanly.
Thinking effort arrives as a budget (`thinking`) or a level (`output_config.effort`): both are
kept, so providers that speak the other one get the nearest equivalent.
"""

from __future__ import annotations

from typing import Any

import orjson

from adapters.wire.parsing import integer, invalid, number
from adapters.wire.reasoning import effort_for_budget, effort_from_level
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

_CODE = "invalid_request_error"

# Content blocks of the Messages API the domain does not carry: dropped (with a note) when translating.
KNOWN_UNTRANSLATED_BLOCKS = frozenset({
    "document", "search_result", "redacted_thinking", "container_upload", "server_tool_use",
    "web_search_tool_result", "web_fetch_tool_result", "code_execution_tool_result",
    "bash_code_execution_tool_result", "text_editor_code_execution_tool_result", "tool_search_tool_result",
    "mcp_tool_use", "mcp_tool_result",
})


def _invalid(message: str, param: str) -> InvalidRequest:
    return invalid(message, param, _CODE)


def _untranslated(kind: Any, where: str) -> Untranslated:
    if not isinstance(kind, str):
        return Untranslated(where, "<no type>", known=False)
    # tool_use in a user turn or tool_result in an assistant turn: known blocks, out of place.
    return Untranslated(where, kind, known=kind in KNOWN_UNTRANSLATED_BLOCKS or kind in ("tool_use", "tool_result"))


# --- inbound -------------------------------------------------------------------------------


def _image(block: dict[str, Any], where: str, untranslated: list[Untranslated]) -> ImagePart | None:
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        return ImagePart(data=str(source.get("data") or ""), media_type=source.get("media_type") or "image/png")
    if isinstance(source, dict) and source.get("type") == "url" and isinstance(source.get("url"), str):
        return ImagePart(url=source["url"])
    kind = source.get("type") if isinstance(source, dict) else None
    untranslated.append(Untranslated(where, f"image with a {kind or 'missing'} source"))
    return None


def _parts(content: Any, param: str) -> list[Any]:
    """Blocks of a message: a string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return content
    if content is None:
        return []
    raise _invalid("content must be a string or an array of content blocks", param)


def _tool_result_parts(content: Any, where: str, untranslated: list[Untranslated]) -> list[Part]:
    if isinstance(content, str):
        return [TextPart(text=content)] if content else []
    parts: list[Part] = []
    for k, block in enumerate(content if isinstance(content, list) else ()):
        kind = block.get("type") if isinstance(block, dict) else None
        if isinstance(block, dict) and kind == "text":
            parts.append(TextPart(text=str(block.get("text") or ""), cache_control=block.get("cache_control")))
        elif isinstance(block, dict) and kind == "image":
            image = _image(block, f"{where}.{k}", untranslated)
            if image is not None:
                parts.append(image)
        else:
            untranslated.append(_untranslated(kind, f"{where}.{k}"))
    return parts


def _message(item: Any, index: int, names: dict[str, str], untranslated: list[Untranslated]) -> list[Message]:
    param = f"messages.{index}"
    if not isinstance(item, dict):
        raise _invalid("each message must be an object", param)
    role = item.get("role")
    if not isinstance(role, str) or role not in ("user", "assistant"):
        raise _invalid(f"messages.{index}.role: Input should be 'user', 'assistant' or 'system'", f"{param}.role")
    parts: list[Part] = []
    calls: list[ToolCall] = []
    results: list[Message] = []
    for j, block in enumerate(_parts(item.get("content"), f"{param}.content")):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _invalid("each content block must be an object with a type", f"{param}.content.{j}")
        kind = block.get("type")
        if kind == "text":
            parts.append(TextPart(text=str(block.get("text") or ""), cache_control=block.get("cache_control")))
        elif kind == "image":
            image = _image(block, f"{param}.content.{j}", untranslated)
            if image is not None:
                parts.append(image)
        elif kind == "thinking":
            signature = block.get("signature") or None
            parts.append(ThinkingPart(text=str(block.get("thinking") or ""), signature=signature,
                                      signed_by="anthropic" if signature else None))
        elif kind == "tool_use" and role == "assistant":
            call_id = str(block.get("id") or f"toolu_{index}_{j}")
            name = str(block.get("name") or "")
            names[call_id] = name
            calls.append(ToolCall(id=call_id, name=name, arguments=orjson.dumps(block.get("input") or {}).decode()))
        elif kind == "tool_result" and role == "user":
            call_id = str(block.get("tool_use_id") or "")
            results.append(Message(role="tool", content=_tool_result_parts(
                                       block.get("content"), f"{param}.content.{j}.content", untranslated),
                                   tool_call_id=call_id, name=names.get(call_id), is_error=bool(block.get("is_error"))))
        else:
            untranslated.append(_untranslated(kind, f"{param}.content.{j}"))
    if role == "assistant":
        return [Message(role="assistant", content=parts, tool_calls=calls)]
    return [*results, Message(role="user", content=parts)] if parts or not results else results


def _system(raw: Any) -> list[TextPart]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [TextPart(text=raw)] if raw else []
    if not isinstance(raw, list) or not all(
            isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str) for b in raw):
        raise _invalid("system must be a string or an array of text blocks", "system")
    return [TextPart(text=b["text"], cache_control=b.get("cache_control")) for b in raw]


def _tools(raw: Any, untranslated: list[Untranslated]) -> list[Tool]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid("tools must be an array", "tools")
    tools = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str) or not item["name"]:
            raise _invalid("tools[].name is required", f"tools.{i}.name")
        if "input_schema" not in item and item.get("type") not in (None, "custom"):
            untranslated.append(Untranslated(f"tools.{i}", f"server tool {item.get('type')}", name=item["name"]))
            continue
        schema = item.get("input_schema")
        tools.append(Tool(name=item["name"], description=item.get("description"),
                          parameters=schema if isinstance(schema, dict) else {},
                          cache_control=item.get("cache_control")))
    return tools


def _tool_choice(raw: Any) -> ToolChoice | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise _invalid("tool_choice must be an object", "tool_choice")
    kind = raw.get("type")
    parallel = False if raw.get("disable_parallel_tool_use") else None
    if kind == "auto":
        return ToolChoice(mode="auto", parallel=parallel)
    if kind == "any":
        return ToolChoice(mode="required", parallel=parallel)
    if kind == "none":
        return ToolChoice(mode="none")
    if kind == "tool" and isinstance(raw.get("name"), str):
        return ToolChoice(mode="tool", name=raw["name"], parallel=parallel)
    raise _invalid("tool_choice.type must be auto, any, tool or none", "tool_choice")


def _number(body: dict[str, Any], key: str, high: float) -> float | None:
    return number(body.get(key), f"{key}:", key, _CODE, 0, high)


def _positive_int(body: dict[str, Any], key: str) -> int | None:
    return integer(body.get(key), f"{key}:", key, _CODE)


def parse_request(body: dict[str, Any], *, require_max_tokens: bool = False) -> ChatRequest:
    """A client's Messages body -> ChatRequest (raises InvalidRequest naming the field)."""
    model = body.get("model") or ""
    if not isinstance(model, str):
        raise _invalid("model: Input should be a valid string", "model")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise _invalid("messages: at least one message is required", "messages")
    names: dict[str, str] = {}
    untranslated: list[Untranslated] = []
    system = _system(body.get("system"))
    messages: list[Message] = []
    for i, item in enumerate(raw_messages):
        if isinstance(item, dict) and item.get("role") == "system":
            # A mid-conversation system message (anthropic SDK SystemMessageParam, Claude Code):
            # folded into the system prompt, the one place every provider takes instructions.
            system.extend(_system(item.get("content")))
        else:
            messages.extend(_message(item, i, names, untranslated))
    if not messages:
        raise _invalid("messages: at least one user or assistant message is required", "messages")
    max_tokens = _positive_int(body, "max_tokens")
    if require_max_tokens and max_tokens is None:
        raise _invalid("max_tokens: Field required", "max_tokens")
    thinking = body.get("thinking")
    if thinking is not None and not isinstance(thinking, dict):
        raise _invalid("thinking must be an object", "thinking")
    budget = None
    effort = None
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens") if isinstance(thinking.get("budget_tokens"), int) else None
        effort = effort_for_budget(budget)
    elif isinstance(thinking, dict) and thinking.get("type") == "adaptive":
        effort = "medium"
    output_config: dict[str, Any] = body.get("output_config") or {}
    if not isinstance(output_config, dict):
        raise _invalid("output_config must be an object", "output_config")
    effort = effort_from_level(output_config.get("effort")) or effort
    metadata: dict[str, Any] = body.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _invalid("metadata must be an object", "metadata")
    stops = body.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise _invalid("stop_sequences: Input should be a valid list of strings", "stop_sequences")
    return ChatRequest(
        model=model,
        messages=messages,
        system=system,
        tools=_tools(body.get("tools"), untranslated),
        tool_choice=_tool_choice(body.get("tool_choice")),
        max_tokens=max_tokens,
        temperature=_number(body, "temperature", 1),
        top_p=_number(body, "top_p", 1),
        top_k=_positive_int(body, "top_k"),
        stop=[s for s in stops if isinstance(s, str)] if isinstance(stops, list) else [],
        stream=bool(body.get("stream")),
        include_usage=True,
        response_format=_response_format(output_config.get("format") or body.get("output_format")),
        reasoning_effort=effort,
        thinking_budget=budget,
        user=metadata.get("user_id") if isinstance(metadata.get("user_id"), str) else None,
        metadata=metadata,
        raw=body,
        raw_family="anthropic",
        untranslated=untranslated,
    )


def _response_format(raw: Any) -> ResponseFormat | None:
    if isinstance(raw, dict) and raw.get("type") == "json_schema" and isinstance(raw.get("schema"), dict):
        return ResponseFormat(type="json_schema", schema=raw["schema"])
    return None
