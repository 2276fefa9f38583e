"""domain.chat.ChatRequest -> the Messages body sent to an Anthropic provider.

Same family: the client's own body, minus gateway fields. Otherwise a translation: the domain's
separate `tool` messages fold back into one user turn of `tool_result` blocks, thinking blocks are
kept only with an Anthropic signature, `cache_control` markers are written back, and the
Anthropic-only constraints are met (a max_tokens default, 1024 <= thinking budget < max_tokens,
temperature <= 1 and no temperature/top_k while thinking).
"""

from __future__ import annotations

import logging
from typing import Any

from adapters.wire.base64_data import standard_base64
from adapters.wire.reasoning import ANTHROPIC_MIN_BUDGET, thinking_budget
from adapters.wire.tool_arguments import arguments_object
from adapters.wire.untranslated import check_translation
from application.request_config import OVERRIDE_FIELDS
from domain.chat import ChatRequest, ImagePart, Message, Part, TextPart, ThinkingPart, Tool
from domain.errors import InvalidRequest

log = logging.getLogger(__name__)

DEFAULT_MAX_TOKENS = 4096
# JSON mode without a schema (OpenAI `json_object`, Gemini `responseMimeType: application/json`):
# Anthropic's structured output needs a schema, so the mode travels as an instruction.
JSON_INSTRUCTION = ("Respond with one valid JSON object and nothing else: no prose before or after it, "
                    "no Markdown code fences.")


def _wire_image(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        return {"type": "image", "source": {"type": "base64", "media_type": part.media_type or "image/png",
                                            "data": standard_base64(part.data)}}
    return {"type": "image", "source": {"type": "url", "url": part.url or ""}}


def _wire_text(part: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def _wire_blocks(parts: list[Part], *, thinking: bool) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    for p in parts:
        if isinstance(p, TextPart):
            if p.text or p.cache_control:
                blocks.append(_wire_text(p))
        elif isinstance(p, ImagePart):
            blocks.append(_wire_image(p))
        elif thinking and p.signature and p.signed_by == "anthropic":
            blocks.append({"type": "thinking", "thinking": p.text, "signature": p.signature})
        else:
            log.debug("dropping a thinking block without an Anthropic signature (Anthropic requires one)")
    return blocks


def _tool_result(m: Message) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": m.tool_call_id or ""}
    if all(isinstance(p, TextPart) and p.cache_control is None for p in m.content):
        block["content"] = m.text()
    else:
        block["content"] = _wire_blocks([p for p in m.content if not isinstance(p, ThinkingPart)], thinking=False)
    if m.is_error:
        block["is_error"] = True
    return block


def _wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "assistant":
            blocks = _wire_blocks(m.content, thinking=True)
            blocks.extend({"type": "tool_use", "id": c.id, "name": c.name, "input": arguments_object(c.arguments)}
                          for c in m.tool_calls)
            role = "assistant"
        elif m.role == "tool":
            blocks, role = [_tool_result(m)], "user"
        else:
            blocks, role = _wire_blocks(m.content, thinking=False), "user"
        if not blocks:
            continue
        if out and out[-1]["role"] == role:  # tool results and the user's text share one turn
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _wire_tool_choice(request: ChatRequest) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None or not request.tools:
        return None
    out: dict[str, Any]
    if choice.mode == "tool":
        out = {"type": "tool", "name": choice.name or ""}
    elif choice.mode == "required":
        out = {"type": "any"}
    elif choice.mode == "none":
        return {"type": "none"}
    else:
        out = {"type": "auto"}
    if choice.parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def build_request(request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
    """The body to send an Anthropic provider for `request`, aimed at `model`."""
    if request.raw_family == "anthropic" and request.raw is not None:
        body = {k: v for k, v in request.raw.items() if k not in OVERRIDE_FIELDS}
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
    else:
        body = translated_body(request)
    body["model"] = model
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    return body


def translated_body(request: ChatRequest, *, for_count: bool = False) -> dict[str, Any]:
    """The Messages body for a request of another family (`for_count`: the count_tokens subset)."""
    if request.n != 1:
        raise InvalidRequest(f"n={request.n} is not supported by Anthropic models (one reply per request)",
                             param="n", code="invalid_value")
    check_translation(request, "anthropic")
    body: dict[str, Any] = {"messages": _wire_messages(request.messages)}
    system = list(request.system)
    fmt = request.response_format
    if fmt is not None and (fmt.type == "json_object" or (fmt.type == "json_schema" and not fmt.schema)):
        system.append(TextPart(text=JSON_INSTRUCTION))
    if system:
        if any(p.cache_control for p in system):
            body["system"] = [_wire_text(p) for p in system]
        else:
            body["system"] = "\n\n".join(p.text for p in system)
    if request.tools:
        body["tools"] = [_wire_tool(t) for t in request.tools]
        choice = _wire_tool_choice(request)
        if choice is not None:
            body["tool_choice"] = choice
    budget = _budget(request)
    max_tokens = request.max_tokens or DEFAULT_MAX_TOKENS + (budget or 0)
    if budget is not None:
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    if for_count:
        return body
    body["max_tokens"] = max_tokens
    _sampling(request, body, thinking=budget is not None)
    if request.stop:
        body["stop_sequences"] = request.stop
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if fmt is not None and fmt.type == "json_schema" and fmt.schema:
        body["output_config"] = {"format": {"type": "json_schema", "schema": fmt.schema}}
    if request.seed is not None:
        log.debug("dropping seed: not part of the Anthropic Messages API")
    return body


def _wire_tool(tool: Tool) -> dict[str, Any]:
    schema = dict(tool.parameters) if tool.parameters else {}
    schema.setdefault("type", "object")
    if schema["type"] == "object":
        schema.setdefault("properties", {})
    out: dict[str, Any] = {"name": tool.name, "input_schema": schema}
    if tool.description:
        out["description"] = tool.description
    if tool.cache_control is not None:
        out["cache_control"] = tool.cache_control
    return out


def _budget(request: ChatRequest) -> int | None:
    """Anthropic needs 1024 <= budget < max_tokens. The client's max_tokens counts reasoning too
    (as OpenAI's does), so a budget is cut to fit it, and thinking is dropped when it cannot."""
    budget = thinking_budget(request.thinking_budget, request.reasoning_effort)
    if budget is None or budget <= 0:
        return None
    budget = max(budget, ANTHROPIC_MIN_BUDGET)
    limit = request.max_tokens
    if limit is not None and budget >= limit:
        if limit <= ANTHROPIC_MIN_BUDGET:
            log.debug("dropping thinking: max_tokens %d leaves no room for a thinking budget", limit)
            return None
        budget = max(ANTHROPIC_MIN_BUDGET, limit // 2)
    return budget


def _sampling(request: ChatRequest, body: dict[str, Any], *, thinking: bool) -> None:
    if thinking:  # Anthropic rejects temperature/top_k and a low top_p while thinking
        if request.temperature is not None or request.top_k is not None:
            log.debug("dropping temperature/top_k: not allowed with Anthropic extended thinking")
        if request.top_p is not None and request.top_p >= 0.95:
            body["top_p"] = request.top_p
        return
    if request.temperature is not None:
        if request.temperature > 1:
            log.debug("clamping temperature %s to Anthropic's maximum of 1", request.temperature)
        body["temperature"] = min(request.temperature, 1.0)
    if request.top_p is not None:
        body["top_p"] = request.top_p
    if request.top_k is not None:
        body["top_k"] = request.top_k
