"""A client's Gemini generateContent body -> domain.chat.ChatRequest (the way back: gemini_body).

Accepts the camelCase JSON the google-genai SDK sends (and snake_case, which the REST API also
takes). The model and whether to stream come from the URL, not the body. Gemini function calls
often carry no id: ids are made up per conversation (`call_<n>`), and each functionResponse is
paired with the earliest unanswered call of the same name, so the history translates into
OpenAI/Anthropic tool-call ids that match. Thought signatures are not kept: they only verify at
Gemini, which receives the client's own body.
"""

from __future__ import annotations

from typing import Any

import orjson

from adapters.wire.json_schema import from_gemini, lower_types
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

_CODE = "INVALID_ARGUMENT"

def get(obj: Any, camel: str, snake: str | None = None) -> Any:
    """`obj[camel]`, else `obj[snake]` (Gemini's REST API accepts both spellings)."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    if value is None and snake is not None:
        value = obj.get(snake)
    return value


def _invalid(message: str, param: str) -> InvalidRequest:
    return invalid(message, param, _CODE)


# Part fields of the Gemini API the domain does not carry: dropped (with a note) when translating.
KNOWN_UNTRANSLATED_PARTS = {"executableCode": "executable_code", "codeExecutionResult": "code_execution_result",
                            "toolCall": "tool_call", "toolResponse": "tool_response"}
# Fields that only qualify a part (or are Gemini's own bookkeeping): never a note on their own.
_PART_MODIFIERS = ("thought", "thoughtSignature", "thought_signature", "videoMetadata", "video_metadata",
                   "mediaResolution", "media_resolution", "partMetadata", "part_metadata")


def _other_part(part: dict[str, Any], where: str) -> Untranslated | None:
    """What a part with none of the translated fields is: a known field, a bare modifier, or unknown."""
    for camel, snake in KNOWN_UNTRANSLATED_PARTS.items():
        if get(part, camel, snake) is not None:
            return Untranslated(where, camel)
    rest = sorted(k for k in part if k not in _PART_MODIFIERS)
    if not rest:
        return None
    return Untranslated(where, ", ".join(rest), known=False)


# --- inbound -------------------------------------------------------------------------------


class _Calls:
    """Made-up ids for id-less function calls, and the calls still waiting for a response."""

    def __init__(self) -> None:
        self.count = 0
        self.pending: list[tuple[str, str]] = []

    def call(self, raw_id: Any, name: str) -> str:
        self.count += 1
        call_id = raw_id if isinstance(raw_id, str) and raw_id else f"call_{self.count}"
        self.pending.append((call_id, name))
        return call_id

    def answer(self, raw_id: Any, name: str) -> str:
        if isinstance(raw_id, str) and raw_id:
            self.pending = [p for p in self.pending if p[0] != raw_id]
            return raw_id
        for i, (call_id, pending_name) in enumerate(self.pending):
            if pending_name == name:
                del self.pending[i]
                return call_id
        self.count += 1
        return f"call_{self.count}"


def _response_text(response: Any) -> str:
    """A functionResponse.response as the tool's text: its lone result/output string, else JSON."""
    if isinstance(response, dict) and len(response) == 1:
        (key, value), = response.items()
        if key in ("result", "output", "content") and isinstance(value, str):
            return value
    return orjson.dumps(response if response is not None else {}).decode()


# Part fields that are objects on the wire: anything else is refused before it goes upstream.
_OBJECT_PARTS = (("inlineData", "inline_data"), ("fileData", "file_data"), ("functionCall", "function_call"),
                 ("functionResponse", "function_response"))


def _content(item: Any, index: int, calls: _Calls, untranslated: list[Untranslated]) -> list[Message]:
    param = f"contents[{index}]"
    if not isinstance(item, dict):
        raise _invalid("each content must be an object", param)
    role = item.get("role") or "user"
    if role not in ("user", "model", "function"):
        raise _invalid(f"Please use a valid role: user, model (got {role!r})", f"{param}.role")
    parts: list[Part] = []
    tool_calls: list[ToolCall] = []
    results: list[Message] = []
    raw_parts = item.get("parts")
    if not isinstance(raw_parts, list):
        raise _invalid("parts must be an array of parts", f"{param}.parts")
    for j, part in enumerate(raw_parts):
        where = f"{param}.parts[{j}]"
        if not isinstance(part, dict):
            raise _invalid("each part must be an object", f"{param}.parts[{j}]")
        for camel, snake in _OBJECT_PARTS:
            value = get(part, camel, snake)
            if value is not None and not isinstance(value, dict):
                raise _invalid(f"{camel} must be an object", f"{param}.parts[{j}].{camel}")
        if part.get("text") is not None and not isinstance(part["text"], str):
            raise _invalid("text must be a string", f"{param}.parts[{j}].text")
        if isinstance(part.get("text"), str):
            # Thought signatures are only meaningful to Gemini (which gets the raw body): dropped.
            parts.append(ThinkingPart(text=part["text"]) if part.get("thought") else TextPart(text=part["text"]))
        elif (inline := get(part, "inlineData", "inline_data")) is not None:
            mime = str(get(inline, "mimeType", "mime_type") or "")
            if mime.startswith("image/"):
                parts.append(ImagePart(data=str(inline.get("data") or ""), media_type=mime))
            else:
                untranslated.append(Untranslated(where, f"inlineData {mime or 'without mimeType'}"))
        elif (file := get(part, "fileData", "file_data")) is not None:
            mime = get(file, "mimeType", "mime_type")
            if not mime or str(mime).startswith("image/"):
                parts.append(ImagePart(url=str(get(file, "fileUri", "file_uri") or ""), media_type=mime))
            else:
                untranslated.append(Untranslated(where, f"fileData {mime}"))
        elif (fc := get(part, "functionCall", "function_call")) is not None:
            name = str(fc.get("name") or "")
            tool_calls.append(ToolCall(id=calls.call(fc.get("id"), name), name=name,
                                       arguments=orjson.dumps(fc.get("args") or {}).decode()))
        elif (fr := get(part, "functionResponse", "function_response")) is not None:
            name = str(fr.get("name") or "")
            results.append(Message(role="tool", content=[TextPart(text=_response_text(fr.get("response")))],
                                   tool_call_id=calls.answer(fr.get("id"), name), name=name))
        elif (other := _other_part(part, where)) is not None:
            untranslated.append(other)
    if role == "model":
        return [Message(role="assistant", content=parts, tool_calls=tool_calls)]
    return [*results, Message(role="user", content=parts)] if parts or not results else results


def _system(raw: Any) -> list[TextPart]:
    if raw is None:
        return []
    if isinstance(raw, str):  # the REST API's shorthand for one text part
        return [TextPart(text=raw)] if raw else []
    if not isinstance(raw, dict) or not isinstance(raw.get("parts"), list) or not all(
            isinstance(p, dict) for p in raw["parts"]):
        raise _invalid("systemInstruction must be a content with an array of parts", "systemInstruction")
    return [TextPart(text=p["text"]) for p in raw["parts"] if isinstance(p.get("text"), str)]


def _tools(raw: Any, untranslated: list[Untranslated]) -> list[Tool]:
    tools: list[Tool] = []
    if raw is None:
        return tools
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise _invalid("tools must be an array of objects", "tools")
    for i, item in enumerate(raw):
        declarations = get(item, "functionDeclarations", "function_declarations")
        if not isinstance(declarations, list):
            kinds = ", ".join(sorted(item)) if isinstance(item, dict) else str(item)
            untranslated.append(Untranslated(f"tools[{i}]", f"server tool {kinds}", name=kinds))
            continue
        for decl in declarations:
            if not isinstance(decl, dict) or not isinstance(decl.get("name"), str):
                raise _invalid("functionDeclarations[].name is required", "tools")
            schema = lower_types(get(decl, "parametersJsonSchema", "parameters_json_schema"))
            if not isinstance(schema, dict):
                schema = from_gemini(decl.get("parameters")) if isinstance(decl.get("parameters"), dict) else {}
            tools.append(Tool(name=decl["name"], description=decl.get("description"), parameters=schema))
    return tools


def _tool_choice(body: dict[str, Any]) -> ToolChoice | None:
    config = get(get(body, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config")
    if not isinstance(config, dict):
        return None
    mode = str(config.get("mode") or "AUTO").upper()
    allowed = get(config, "allowedFunctionNames", "allowed_function_names")
    if mode == "NONE":
        return ToolChoice(mode="none")
    if mode in ("ANY", "VALIDATED"):
        if isinstance(allowed, list) and len(allowed) == 1:
            return ToolChoice(mode="tool", name=str(allowed[0]))
        return ToolChoice(mode="required")
    return ToolChoice(mode="auto")


def _response_format(config: dict[str, Any]) -> ResponseFormat | None:
    mime = get(config, "responseMimeType", "response_mime_type")
    schema = lower_types(get(config, "responseJsonSchema", "response_json_schema"))
    if not isinstance(schema, dict):
        gemini_schema = get(config, "responseSchema", "response_schema")
        schema = from_gemini(gemini_schema) if isinstance(gemini_schema, dict) else None
    if schema:
        return ResponseFormat(type="json_schema", schema=schema)
    if mime == "application/json":
        return ResponseFormat(type="json_object")
    return None


def _number(config: dict[str, Any], camel: str, snake: str, high: float) -> float | None:
    name = f"generationConfig.{camel}"
    return number(get(config, camel, snake), name, name, _CODE, 0, high)


def _int(config: dict[str, Any], camel: str, snake: str) -> int | None:
    name = f"generationConfig.{camel}"
    return integer(get(config, camel, snake), name, name, _CODE, minimum=0)


def parse_request(body: dict[str, Any], model: str, *, stream: bool) -> ChatRequest:
    """A client's GenerateContentRequest -> ChatRequest (`model` and `stream` from the URL)."""
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list) or not contents:
        raise _invalid("contents is not specified", "contents")
    calls = _Calls()
    untranslated: list[Untranslated] = []
    messages = [m for i, item in enumerate(contents) for m in _content(item, i, calls, untranslated)]
    config = get(body, "generationConfig", "generation_config")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise _invalid("generationConfig must be an object", "generationConfig")
    thinking = get(config, "thinkingConfig", "thinking_config")
    thinking = {} if thinking is None else thinking
    budget = get(thinking, "thinkingBudget", "thinking_budget")
    budget = budget if isinstance(budget, int) and budget >= 0 else None
    effort = effort_from_level(get(thinking, "thinkingLevel", "thinking_level")) or effort_for_budget(budget)
    stops = get(config, "stopSequences", "stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise _invalid("stopSequences must be an array of strings", "generationConfig.stopSequences")
    for camel, snake in (("safetySettings", "safety_settings"),):
        if get(body, camel, snake) is not None and not isinstance(get(body, camel, snake), list):
            raise _invalid(f"{camel} must be an array", camel)
    if not isinstance(thinking, dict):
        raise _invalid("thinkingConfig must be an object", "generationConfig.thinkingConfig")
    seed = config.get("seed")
    return ChatRequest(
        model=model,
        messages=messages,
        system=_system(get(body, "systemInstruction", "system_instruction")),
        tools=_tools(body.get("tools"), untranslated),
        tool_choice=_tool_choice(body),
        max_tokens=_int(config, "maxOutputTokens", "max_output_tokens") or None,
        temperature=_number(config, "temperature", "temperature", 2),
        top_p=_number(config, "topP", "top_p", 1),
        top_k=_int(config, "topK", "top_k") or None,
        stop=[s for s in stops if isinstance(s, str)] if isinstance(stops, list) else [],
        stream=stream,
        include_usage=True,
        n=_int(config, "candidateCount", "candidate_count") or 1,
        seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None,
        response_format=_response_format(config),
        reasoning_effort=effort,
        thinking_budget=budget if budget else None,
        raw=body,
        raw_family="gemini",
        untranslated=untranslated,
    )
