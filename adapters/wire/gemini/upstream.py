"""domain.chat.ChatRequest -> the camelCase generateContent body sent to a Gemini provider.

Same family: the client's own body, minus gateway fields and the model (it goes in the URL).
Otherwise a translation: tool schemas cleaned to Gemini's subset (adapters.wire.json_schema),
tool results as `functionResponse` parts of a user turn (named after the call they answer),
consecutive turns of one role merged, and reasoning effort as a thinking budget.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from adapters.wire.json_schema import to_gemini
from adapters.wire.reasoning import thinking_budget
from adapters.wire.tool_arguments import arguments_object
from adapters.wire.untranslated import check_translation
from application.request_config import OVERRIDE_FIELDS
from domain.chat import ChatRequest, ImagePart, Message, Part, TextPart, ToolChoice
from domain.errors import InvalidRequest

log = logging.getLogger(__name__)

_EXTENSION_TYPES = {"png": "image/png", "gif": "image/gif", "webp": "image/webp", "jpg": "image/jpeg",
                    "jpeg": "image/jpeg", "heic": "image/heic", "pdf": "application/pdf"}


def _wire_image(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"inlineData": {"mimeType": part.media_type or "image/png", "data": part.data}}
    url = part.url or ""
    mime = part.media_type or _EXTENSION_TYPES.get(url.rsplit("?", 1)[0].rsplit(".", 1)[-1].lower(), "image/jpeg")
    return {"fileData": {"mimeType": mime, "fileUri": url}}


def _wire_parts(parts: list[Part]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            if p.text:
                out.append({"text": p.text})
        elif isinstance(p, ImagePart):
            out.append(_wire_image(p))
    return out


def _function_response(m: Message) -> dict[str, Any]:
    text = m.text()
    try:
        value = orjson.loads(text) if text else {}
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"error" if m.is_error else "result": value}
    out: dict[str, Any] = {"name": m.name or "", "response": response}
    if m.tool_call_id:
        out["id"] = m.tool_call_id
    return {"functionResponse": out}


def _wire_contents(messages: list[Message]) -> list[dict[str, Any]]:
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "assistant":
            parts = _wire_parts(m.content)
            parts.extend({"functionCall": {"id": c.id, "name": c.name, "args": arguments_object(c.arguments)}}
                         for c in m.tool_calls)
            role = "model"
        elif m.role == "tool":
            if not m.name:
                m = Message(role="tool", content=m.content, tool_call_id=m.tool_call_id,
                            name=names.get(m.tool_call_id or "", ""), is_error=m.is_error)
            parts, role = [_function_response(m)], "user"
        else:
            parts, role = _wire_parts(m.content), "user"
        if not parts:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["parts"].extend(parts)
        else:
            out.append({"role": role, "parts": parts})
    return out


def _wire_tools(request: ChatRequest) -> list[dict[str, Any]]:
    declarations = []
    for tool in request.tools:
        decl: dict[str, Any] = {"name": tool.name}
        if tool.description:
            decl["description"] = tool.description
        schema = to_gemini(tool.parameters)
        if schema.get("properties"):  # Gemini rejects an object schema without properties
            decl["parameters"] = schema
        declarations.append(decl)
    return [{"functionDeclarations": declarations}]


def _wire_tool_config(choice: ToolChoice | None) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice.parallel is False:
        log.debug("dropping parallel_tool_calls=false: Gemini has no such switch")
    if choice.mode == "tool":
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [choice.name or ""]}}
    mode = {"auto": "AUTO", "none": "NONE", "required": "ANY"}[choice.mode]
    return {"functionCallingConfig": {"mode": mode}}


def build_request(request: ChatRequest) -> dict[str, Any]:
    """The camelCase body to send a Gemini provider (the model and streaming go in the URL)."""
    if request.raw_family == "gemini" and request.raw is not None:
        return {k: v for k, v in request.raw.items() if k not in OVERRIDE_FIELDS and k not in ("model", "stream")}
    if request.n != 1:
        raise InvalidRequest(f"n={request.n} is not supported when translating to Gemini (one reply per request)",
                             param="n", code="invalid_value")
    check_translation(request, "gemini")
    body: dict[str, Any] = {"contents": _wire_contents(request.messages)}
    if request.system:
        body["systemInstruction"] = {"parts": [{"text": "\n\n".join(p.text for p in request.system)}]}
    if request.tools:
        body["tools"] = _wire_tools(request)
        tool_config = _wire_tool_config(request.tool_choice)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    config = _generation_config(request)
    if config:
        body["generationConfig"] = config
    if request.user:
        log.debug("dropping user: not part of the Gemini API")
    return body


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    optional = {"maxOutputTokens": request.max_tokens, "temperature": request.temperature, "topP": request.top_p,
                "topK": request.top_k, "seed": request.seed}
    config.update({k: v for k, v in optional.items() if v is not None})
    if request.stop:
        if len(request.stop) > 5:
            log.debug("keeping the first 5 of %d stop sequences (Gemini's limit)", len(request.stop))
        config["stopSequences"] = request.stop[:5]
    fmt = request.response_format
    if fmt is not None and fmt.type in ("json_object", "json_schema"):
        config["responseMimeType"] = "application/json"
        if fmt.type == "json_schema" and fmt.schema:
            config["responseSchema"] = to_gemini(fmt.schema)
    budget = thinking_budget(request.thinking_budget, request.reasoning_effort)
    if budget is not None:
        config["thinkingConfig"] = {"thinkingBudget": budget, "includeThoughts": budget > 0}
    return config


def count_body(request: ChatRequest, model: str) -> dict[str, Any]:
    """The `:countTokens` body: the whole generate request, so system and tools are counted too."""
    inner = build_request(request)
    inner.pop("generationConfig", None)
    return {"generateContentRequest": {"model": f"models/{model}", **inner}}
