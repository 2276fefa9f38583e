"""The Gemini generateContent body's cache residue: its allowlist (see adapters/wire/cache_residue.py)."""

from __future__ import annotations

from typing import Any

from adapters.wire.cache_residue import Lossy, fits, only, top_level
from application.request_config import OVERRIDE_FIELDS

_GEMINI_NEUTRAL = OVERRIDE_FIELDS | {"model", "stream", "labels"}
_GEMINI_MODELLED = frozenset({"contents", "systemInstruction", "system_instruction", "tools", "toolConfig",
                              "tool_config", "generationConfig", "generation_config"})
_GEMINI_SAMPLING = frozenset({"safetySettings", "safety_settings"})
_GENERATION_MODELLED = frozenset({
    "temperature", "topP", "top_p", "topK", "top_k", "maxOutputTokens", "max_output_tokens", "stopSequences",
    "stop_sequences", "candidateCount", "candidate_count", "seed", "responseSchema", "response_schema",
    "responseJsonSchema", "response_json_schema", "responseMimeType", "response_mime_type"})
_GENERATION_SAMPLING = frozenset({
    "presencePenalty", "presence_penalty", "frequencyPenalty", "frequency_penalty", "thinkingConfig",
    "thinking_config", "mediaResolution", "media_resolution", "responseModalities", "response_modalities"})
_GEMINI_PART = ("text", "thought", "thoughtSignature", "thought_signature", "inlineData", "inline_data", "fileData",
                "file_data", "functionCall", "function_call", "functionResponse", "function_response")


def _gemini_part(part: Any) -> None:
    only(part, _GEMINI_PART)
    inline = part.get("inlineData") or part.get("inline_data")
    if inline is not None:
        mime = only(inline, ("mimeType", "mime_type", "data")).get("mimeType") or inline.get("mime_type") or ""
        if not str(mime).startswith("image/"):
            raise Lossy


def residue(body: dict[str, Any]) -> dict[str, Any]:
    extra = top_level(body, _GEMINI_NEUTRAL, _GEMINI_MODELLED, _GEMINI_SAMPLING)
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else [contents]:
        for part in only(content, ("role", "parts")).get("parts") or ():
            _gemini_part(part)
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        for part in only(system, ("role", "parts")).get("parts") or ():
            only(part, ("text",))
    config = body.get("generationConfig") or body.get("generation_config") or {}
    generation = top_level(only(config, _GENERATION_MODELLED | _GENERATION_SAMPLING), frozenset(),
                            _GENERATION_MODELLED, _GENERATION_SAMPLING)
    modalities = generation.get("responseModalities") or generation.get("response_modalities")
    if modalities is not None and [str(m).upper() for m in modalities] != ["TEXT"]:
        raise Lossy  # images or audio in the answer: not in the domain response
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    if mime not in (None, "application/json", "text/plain"):
        generation["responseMimeType"] = mime
    if generation:
        extra["generationConfig"] = generation
    tools = body.get("tools") or []
    for tool in tools:
        declarations = only(tool, ("functionDeclarations", "function_declarations"))
        for decl in declarations.get("functionDeclarations") or declarations.get("function_declarations") or ():
            if not fits(decl, ("name", "description", "parameters", "parametersJsonSchema",
                                "parameters_json_schema")):
                extra["tools"] = tools
    tool_config = body.get("toolConfig") or body.get("tool_config")
    if tool_config is not None:
        calling = tool_config.get("functionCallingConfig") or tool_config.get("function_calling_config") \
            if isinstance(tool_config, dict) else None
        names = (calling.get("allowedFunctionNames") or calling.get("allowed_function_names")
                 if isinstance(calling, dict) else None)
        if not fits(tool_config, ("functionCallingConfig", "function_calling_config")) or (
                names is not None and len(names) != 1):
            extra["toolConfig"] = tool_config
    return extra
