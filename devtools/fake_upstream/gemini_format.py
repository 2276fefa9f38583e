"""Google Gemini (generativelanguage) wire format: parsing, replies, stream chunks, errors."""

from __future__ import annotations

from typing import Any

import orjson

from devtools.fake_upstream.replies import Prompt, Reply, Tool, as_text, count_words, text_chunks

StreamEvent = tuple[bytes, bool]

FINISH = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool": "STOP",
    "stop_sequence": "STOP",
    "refusal": "SAFETY",
}

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

SAFETY_RATINGS = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


def _get(obj: Any, camel: str, snake: str) -> Any:
    """``obj[camel]`` falling back to ``obj[snake]`` (requests may use either case)."""
    if not isinstance(obj, dict):
        return None
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def function_response_text(response: Any) -> str:
    """Text of a ``functionResponse.response``: its ``result``/``output``/``content``
    string if it has one, else compact JSON of the whole object."""
    if isinstance(response, dict):
        for key in ("result", "output", "content"):
            if isinstance(response.get(key), str):
                return str(response[key])
    return as_text(response)


def _content_parts(content: Any) -> tuple[str, list[str]]:
    """(joined text parts, function-response texts) of one Content object."""
    if isinstance(content, str):
        return content, []
    parts = _get(content, "parts", "parts")
    texts: list[str] = []
    results: list[str] = []
    for part in parts if isinstance(parts, list) else ():
        if not isinstance(part, dict) or part.get("thought"):
            continue
        if isinstance(part.get("text"), str):
            texts.append(part["text"])
        response = _get(part, "functionResponse", "function_response")
        if isinstance(response, dict):
            results.append(function_response_text(response.get("response")))
    return " ".join(texts), results


def _tools(body: dict[str, Any]) -> list[Tool]:
    tools: list[Tool] = []
    for item in body.get("tools") or ():
        for decl in _get(item, "functionDeclarations", "function_declarations") or ():
            if isinstance(decl, dict) and isinstance(decl.get("name"), str):
                schema = decl.get("parameters") or _get(decl, "parametersJsonSchema", "parameters_json_schema")
                tools.append(Tool(decl["name"], schema or {}))
    return tools


def _tool_choice(prompt: Prompt, body: dict[str, Any]) -> None:
    config = _get(_get(body, "toolConfig", "tool_config"), "functionCallingConfig", "function_calling_config")
    if not isinstance(config, dict):
        return
    mode = str(config.get("mode") or "AUTO").upper()
    allowed = _get(config, "allowedFunctionNames", "allowed_function_names")
    if mode == "NONE":
        prompt.tool_choice = "none"
    elif mode in ("ANY", "VALIDATED") and isinstance(allowed, list) and allowed:
        prompt.tool_choice, prompt.forced_tool = "forced", str(allowed[0])
    elif mode == "ANY":
        prompt.tool_choice = "required"


def parse(body: dict[str, Any], model: str, stream: bool) -> Prompt:
    """Reduce a GenerateContentRequest (model and stream come from the URL)."""
    prompt = Prompt(model=model, stream=stream)
    words = count_words(_content_parts(_get(body, "systemInstruction", "system_instruction"))[0])
    contents = body.get("contents")
    if isinstance(contents, dict):
        contents = [contents]
    if not isinstance(contents, list):
        contents = []
    last_user = ""
    last_results: list[str] = []
    last_role = "user"
    for content in contents:
        text, results = _content_parts(content)
        words += count_words(text) + sum(count_words(r) for r in results)
        role = (content.get("role") if isinstance(content, dict) else None) or "user"
        last_role = "model" if role == "model" else "user"
        if last_role == "user":
            last_user, last_results = text, results
        prompt.seen_tool_result = prompt.seen_tool_result or bool(results)
    prompt.input_words = words
    prompt.last_is_user = last_role == "user"
    prompt.user_text = last_user
    if last_results and prompt.last_is_user:
        prompt.tool_result = " ".join(last_results)
    prompt.tools = _tools(body)
    _tool_choice(prompt, body)
    config = _get(body, "generationConfig", "generation_config") or {}
    limit = _get(config, "maxOutputTokens", "max_output_tokens")
    prompt.max_tokens = limit if isinstance(limit, int) else None
    stops = _get(config, "stopSequences", "stop_sequences")
    prompt.stop = [s for s in stops or () if isinstance(s, str)]
    schema = _get(config, "responseJsonSchema", "response_json_schema") or _get(config, "responseSchema",
                                                                                 "response_schema")
    prompt.json_schema = schema if isinstance(schema, dict) else None
    prompt.json_mode = prompt.json_schema is not None or _get(
        config, "responseMimeType", "response_mime_type") == "application/json"
    thinking = _get(config, "thinkingConfig", "thinking_config")
    prompt.thinking = bool(_get(thinking, "includeThoughts", "include_thoughts"))
    return prompt


def count_tokens(body: dict[str, Any], model: str) -> bytes:
    """``:countTokens`` (accepts ``contents`` or ``generateContentRequest``)."""
    inner = _get(body, "generateContentRequest", "generate_content_request")
    prompt = parse(inner if isinstance(inner, dict) else body, model, False)
    return orjson.dumps({"totalTokens": max(1, prompt.input_words)})


def usage(reply: Reply) -> dict[str, Any]:
    """usageMetadata: prompt includes cached; total = prompt + candidates + thoughts."""
    prompt_tokens = reply.input_tokens + reply.cached_tokens
    return {
        "promptTokenCount": prompt_tokens,
        "candidatesTokenCount": reply.output_tokens,
        "totalTokenCount": prompt_tokens + reply.output_tokens + reply.reasoning_tokens,
        "cachedContentTokenCount": reply.cached_tokens,
        "thoughtsTokenCount": reply.reasoning_tokens,
    }


def _response(prompt: Prompt, reply_id: int, parts: list[dict[str, Any]] | None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"index": 0}
    if parts is not None:
        candidate["content"] = {"parts": parts, "role": "model"}
    return {"candidates": [candidate], "modelVersion": prompt.model, "responseId": f"fake-{reply_id}"}


def _finish(data: dict[str, Any], reply: Reply) -> dict[str, Any]:
    candidate = data["candidates"][0]
    candidate["finishReason"] = FINISH[reply.finish]
    if reply.finish == "refusal":
        candidate["safetyRatings"] = SAFETY_RATINGS
    data["usageMetadata"] = usage(reply)
    return data


def _call_parts(reply: Reply) -> list[dict[str, Any]]:
    return [
        {"functionCall": {"id": f"call_{call.index}", "name": call.name, "args": call.args}}
        for call in reply.tool_calls
    ]


def render(prompt: Prompt, reply: Reply, reply_id: int) -> bytes:
    """The non-streaming GenerateContentResponse body."""
    parts: list[dict[str, Any]] = []
    if reply.thinking:
        parts.append({"text": reply.thinking, "thought": True})
    if reply.text:
        parts.append({"text": reply.text})
    parts.extend(_call_parts(reply))
    refused = reply.finish == "refusal" and not parts
    return orjson.dumps(_finish(_response(prompt, reply_id, None if refused else parts), reply))


def stream_events(prompt: Prompt, reply: Reply, reply_id: int) -> list[StreamEvent]:
    """GenerateContentResponse chunks, one per word; the last one carries the
    final word (or all function calls) plus finishReason and usageMetadata."""
    chunks: list[dict[str, Any]] = []
    if reply.thinking:
        chunks.append(_response(prompt, reply_id, [{"text": reply.thinking, "thought": True}]))
    pieces = text_chunks(reply.text)
    for piece in pieces[:-1]:
        chunks.append(_response(prompt, reply_id, [{"text": piece}]))
    last_parts = [{"text": pieces[-1]}] if pieces else []
    last_parts.extend(_call_parts(reply))
    refused = reply.finish == "refusal" and not last_parts
    final = _finish(_response(prompt, reply_id, None if refused else last_parts), reply)
    events: list[StreamEvent] = [(orjson.dumps(chunk), True) for chunk in chunks]
    events.append((orjson.dumps(final), False))
    return events


def as_sse(events: list[StreamEvent]) -> list[StreamEvent]:
    """Frame chunk JSON as SSE ``data:`` lines (``alt=sse``)."""
    return [(b"data: " + data + b"\r\n\r\n", content) for data, content in events]


def as_json_array(events: list[StreamEvent]) -> bytes:
    """Without ``alt=sse`` the stream is one JSON array of responses."""
    return b"[" + b",\r\n".join(data for data, _ in events) + b"]"


def error_body(status: int, message: str) -> bytes:
    """``{"error": {"code", "message", "status"}}``."""
    name = STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
    return orjson.dumps({"error": {"code": status, "message": message, "status": name}})


def model_info(model: str) -> dict[str, Any]:
    """A Model resource for ``GET /v1beta/models[/{model}]``."""
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model,
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"],
    }
