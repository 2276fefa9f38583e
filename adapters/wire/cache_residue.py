"""What a client's wire body says beyond its domain form: the response cache keys on it.

Same-family requests pass their wire body to the provider (see the `raw` note in domain.chat),
so a field the domain does not model still changes the answer. `residue(request)` answers:

  {}    the domain form is the whole request: the key is family-free and an entry written through
        one API serves the same conversation asked through another;
  dict  answer-changing fields outside the domain that a replayed domain response still answers
        faithfully (penalties, safety settings, thinking configuration, tool `strict` flags...):
        they join the key together with the family;
  None  the body holds what the domain drops or what a domain response cannot reproduce
        (documents, audio or other non-image media, logprobs, server tools, citations,
        a system message in the middle of a conversation...): the request is not cached.

Each family is an allowlist: anything not listed (with a value other than null or false)
makes the request uncacheable, so a field added to an API tomorrow can never cause a wrong hit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from adapters.wire.openai_chat import GATEWAY_FIELDS
from domain.chat import ChatRequest

Residue = dict[str, Any] | None


class _Lossy(Exception):
    """The body holds something the domain form cannot carry."""


def _absent(value: Any) -> bool:
    # Not {} or []: an empty object can switch a feature on (Gemini `googleSearch: {}`).
    return value is None or value is False


def _only(obj: Any, allowed: Iterable[str]) -> dict[str, Any]:
    """`obj` as a dict whose present keys are all in `allowed` (else lossy)."""
    if not isinstance(obj, dict):
        raise _Lossy
    allowed = frozenset(allowed)
    if any(k not in allowed and not _absent(v) for k, v in obj.items()):
        raise _Lossy
    return obj


def _fits(obj: Any, allowed: Iterable[str]) -> bool:
    try:
        _only(obj, allowed)
    except _Lossy:
        return False
    return True


def _top_level(body: dict[str, Any], neutral: frozenset[str], modelled: frozenset[str],
               sampling: frozenset[str]) -> dict[str, Any]:
    residue: dict[str, Any] = {}
    for key, value in body.items():
        if key in neutral or key in modelled or _absent(value):
            continue
        if key not in sampling:
            raise _Lossy
        residue[key] = value
    return residue


# --- OpenAI chat completions -------------------------------------------------------------------

_OPENAI_NEUTRAL = GATEWAY_FIELDS | {"model", "stream", "stream_options", "user", "metadata", "store",
                                    "service_tier", "safety_identifier", "prompt_cache_key",
                                    "prompt_cache_retention"}
_OPENAI_MODELLED = frozenset({"messages", "tools", "tool_choice", "parallel_tool_calls", "max_tokens",
                              "max_completion_tokens", "temperature", "top_p", "top_k", "stop", "n", "seed",
                              "response_format", "reasoning_effort"})
_OPENAI_SAMPLING = frozenset({"frequency_penalty", "presence_penalty", "logit_bias", "verbosity"})
_EFFORTS = frozenset({"minimal", "low", "medium", "high"})


def _openai_content(content: Any, text_only: bool) -> None:
    if content is None or isinstance(content, str):
        return
    if not isinstance(content, list):
        raise _Lossy
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            _only(part, ("type", "text", "cache_control"))
        elif kind == "image_url" and not text_only:
            _only(part, ("type", "image_url"))
            if isinstance(part["image_url"], dict):
                _only(part["image_url"], ("url", "detail"))
        else:
            raise _Lossy


def _openai(body: dict[str, Any]) -> dict[str, Any]:
    residue = _top_level(body, _OPENAI_NEUTRAL, _OPENAI_MODELLED, _OPENAI_SAMPLING)
    conversation_started = False
    for m in body.get("messages") or ():
        role = m.get("role") if isinstance(m, dict) else None
        if role in ("system", "developer"):
            if conversation_started:  # the domain hoists system text to the front
                raise _Lossy
            _only(m, ("role", "content"))
            _openai_content(m.get("content"), text_only=True)
            continue
        if role not in ("user", "assistant", "tool"):
            raise _Lossy
        conversation_started = True
        _only(m, ("role", "content", "name", "tool_call_id", "tool_calls", "reasoning_content"))
        _openai_content(m.get("content"), text_only=False)
        for call in m.get("tool_calls") or ():
            _only(call, ("id", "type", "function"))
            _only(call.get("function"), ("name", "arguments"))
    tools = body.get("tools") or []
    if not all(_fits(t, ("type", "function")) and _fits(t.get("function"), ("name", "description", "parameters"))
               for t in tools):
        residue["tools"] = tools
    fmt = body.get("response_format")
    if isinstance(fmt, dict):
        if fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise _Lossy
        if not _fits(fmt, ("type", "json_schema")) or (
                fmt.get("json_schema") is not None and not _fits(fmt["json_schema"], ("name", "schema", "strict"))):
            residue["response_format"] = fmt
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in _EFFORTS:
        residue["reasoning_effort"] = effort
    return residue


# --- Anthropic Messages ------------------------------------------------------------------------

_ANTHROPIC_NEUTRAL = GATEWAY_FIELDS | {"model", "stream", "metadata", "service_tier"}
_ANTHROPIC_MODELLED = frozenset({"messages", "system", "tools", "tool_choice", "max_tokens", "temperature", "top_p",
                                 "top_k", "stop_sequences"})
# Mapped to an effort or a budget, which is close but not the same request: keyed as given.
_ANTHROPIC_SAMPLING = frozenset({"thinking", "output_config", "output_format"})


def _anthropic_block(block: Any, role: str, nested: bool = False) -> None:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        _only(block, ("type", "text", "cache_control"))
    elif kind == "image":
        _only(block, ("type", "source", "cache_control"))
        source = block.get("source")
        kind = source.get("type") if isinstance(source, dict) else None
        _only(source, ("type", "media_type", "data") if kind == "base64" else ("type", "url"))
        if kind not in ("base64", "url"):
            raise _Lossy
    elif nested:
        raise _Lossy
    elif kind == "thinking" and role == "assistant":
        _only(block, ("type", "thinking", "signature"))
    elif kind == "tool_use" and role == "assistant":
        _only(block, ("type", "id", "name", "input", "cache_control"))
    elif kind == "tool_result" and role == "user":
        _only(block, ("type", "tool_use_id", "content", "is_error", "cache_control"))
        content = block.get("content")
        if isinstance(content, list):
            for inner in content:
                _anthropic_block(inner, role, nested=True)
        elif content is not None and not isinstance(content, str):
            raise _Lossy
    else:
        raise _Lossy


def _anthropic(body: dict[str, Any]) -> dict[str, Any]:
    residue = _top_level(body, _ANTHROPIC_NEUTRAL, _ANTHROPIC_MODELLED, _ANTHROPIC_SAMPLING)
    for m in body.get("messages") or ():
        _only(m, ("role", "content"))
        content = m.get("content")
        if isinstance(content, list):
            for block in content:
                _anthropic_block(block, str(m.get("role")))
        elif not isinstance(content, str):
            raise _Lossy
    system = body.get("system")
    if isinstance(system, list):
        for block in system:
            if not isinstance(block, dict) or block.get("type", "text") != "text":
                raise _Lossy
            _only(block, ("type", "text", "cache_control"))
    tools = body.get("tools") or []
    for tool in tools:
        if not isinstance(tool, dict) or ("input_schema" not in tool and tool.get("type") not in (None, "custom")):
            raise _Lossy  # a server tool: its results are not in the domain response
    if not all(_fits(t, ("type", "name", "description", "input_schema", "cache_control")) for t in tools):
        residue["tools"] = tools
    return residue


# --- Gemini generateContent --------------------------------------------------------------------

_GEMINI_NEUTRAL = GATEWAY_FIELDS | {"model", "stream", "labels"}
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
    _only(part, _GEMINI_PART)
    inline = part.get("inlineData") or part.get("inline_data")
    if inline is not None:
        mime = _only(inline, ("mimeType", "mime_type", "data")).get("mimeType") or inline.get("mime_type") or ""
        if not str(mime).startswith("image/"):
            raise _Lossy


def _gemini(body: dict[str, Any]) -> dict[str, Any]:
    residue = _top_level(body, _GEMINI_NEUTRAL, _GEMINI_MODELLED, _GEMINI_SAMPLING)
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else [contents]:
        for part in _only(content, ("role", "parts")).get("parts") or ():
            _gemini_part(part)
    system = body.get("systemInstruction") or body.get("system_instruction")
    if isinstance(system, dict):
        for part in _only(system, ("role", "parts")).get("parts") or ():
            _only(part, ("text",))
    config = body.get("generationConfig") or body.get("generation_config") or {}
    generation = _top_level(_only(config, _GENERATION_MODELLED | _GENERATION_SAMPLING), frozenset(),
                            _GENERATION_MODELLED, _GENERATION_SAMPLING)
    modalities = generation.get("responseModalities") or generation.get("response_modalities")
    if modalities is not None and [str(m).upper() for m in modalities] != ["TEXT"]:
        raise _Lossy  # images or audio in the answer: not in the domain response
    mime = config.get("responseMimeType") or config.get("response_mime_type")
    if mime not in (None, "application/json", "text/plain"):
        generation["responseMimeType"] = mime
    if generation:
        residue["generationConfig"] = generation
    tools = body.get("tools") or []
    for tool in tools:
        declarations = _only(tool, ("functionDeclarations", "function_declarations"))
        for decl in declarations.get("functionDeclarations") or declarations.get("function_declarations") or ():
            if not _fits(decl, ("name", "description", "parameters", "parametersJsonSchema",
                                "parameters_json_schema")):
                residue["tools"] = tools
    tool_config = body.get("toolConfig") or body.get("tool_config")
    if tool_config is not None:
        calling = tool_config.get("functionCallingConfig") or tool_config.get("function_calling_config") \
            if isinstance(tool_config, dict) else None
        names = (calling.get("allowedFunctionNames") or calling.get("allowed_function_names")
                 if isinstance(calling, dict) else None)
        if not _fits(tool_config, ("functionCallingConfig", "function_calling_config")) or (
                names is not None and len(names) != 1):
            residue["toolConfig"] = tool_config
    return residue


# --- OpenAI Responses API -----------------------------------------------------------------------
# Passed through to providers that have the API: hosted tools (web_search...) and fields the
# domain does not model would change the answer there.
_RESPONSES_NEUTRAL = GATEWAY_FIELDS | {"model", "stream", "store", "metadata", "user", "safety_identifier",
                                      "include", "prompt_cache_key", "parallel_tool_calls"}
_RESPONSES_MODELLED = frozenset({"input", "instructions", "tools", "tool_choice", "max_output_tokens",
                                 "temperature", "top_p", "text", "reasoning"})
_RESPONSES_SAMPLING = frozenset({"truncation", "service_tier", "top_logprobs"})


def _responses(body: dict[str, Any]) -> dict[str, Any]:
    residue = _top_level(body, _RESPONSES_NEUTRAL, _RESPONSES_MODELLED, _RESPONSES_SAMPLING)
    for tool in body.get("tools") or ():
        if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom", "namespace"):
            raise _Lossy
    return residue


_FAMILIES: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "openai": _openai, "anthropic": _anthropic, "gemini": _gemini, "responses": _responses}


def residue(request: ChatRequest) -> Residue:
    """The request's answer-changing wire fields outside the domain ({} for none), or None when
    the request cannot be answered from a cached domain response."""
    if request.raw is None:
        return {}
    if request.untranslated:  # parts the domain form does not hold (adapters/wire/untranslated.py)
        return None
    check = _FAMILIES.get(request.raw_family or "")
    if check is None:
        return None
    try:
        return check(request.raw)
    except (_Lossy, AttributeError, TypeError):
        return None
