"""The Responses API passed through to a provider that has it (OpenAI's own `/v1/responses`).

What goes upstream is `ChatRequest.raw` (request.passthrough_body) with the model rewritten.
`parse_response` and `StreamParser` read the upstream's answer into domain values (for usage,
records, caches and fallback) while keeping the wire body (`raw`) and every stream event
(`RawEvent`) for the client, who gets them unchanged.
"""

from __future__ import annotations

import time
from typing import Any

from adapters.wire.responses.request import flat_name
from domain.chat import (
    ChatResponse,
    FinishReason,
    Part,
    RawEvent,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ThinkingDelta,
    ThinkingPart,
    ToolCall,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)
from domain.errors import UpstreamError

_INCOMPLETE: dict[str, FinishReason] = {"max_output_tokens": "length", "content_filter": "content_filter"}


def upstream_request(body: dict[str, Any], model: str, *, stream: bool) -> dict[str, Any]:
    return {**body, "model": model, "stream": stream}


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    inputs = raw.get("input_tokens_details") or {}
    outputs = raw.get("output_tokens_details") or {}
    return Usage(input_tokens=int(raw.get("input_tokens") or 0), output_tokens=int(raw.get("output_tokens") or 0),
                 cache_read_tokens=int(inputs.get("cached_tokens") or 0) if isinstance(inputs, dict) else 0,
                 reasoning_tokens=int(outputs.get("reasoning_tokens") or 0) if isinstance(outputs, dict) else 0)


def finish_of(response: dict[str, Any]) -> FinishReason:
    details = response.get("incomplete_details")
    if response.get("status") == "incomplete":
        reason = details.get("reason") if isinstance(details, dict) else None
        return _INCOMPLETE.get(str(reason), "length")
    output = response.get("output") or []
    calls = any(isinstance(i, dict) and i.get("type") in ("function_call", "custom_tool_call") for i in output)
    return "tool_calls" if calls else "stop"


def parse_response(payload: dict[str, Any], provider: str = "") -> ChatResponse:
    """A `response` object → a ChatResponse keeping it whole as `raw` (raw_family "responses")."""
    if payload.get("status") == "failed":
        error = payload.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise UpstreamError(f"provider response failed: {message or 'no reason given'}", provider=provider)
    content: list[Part] = []
    calls: list[ToolCall] = []
    for item in payload.get("output") or ():
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "message":
            text = "".join(str(p.get("text") or p.get("refusal") or "") for p in item.get("content") or ()
                           if isinstance(p, dict))
            if text:
                content.append(TextPart(text=text))
        elif kind == "reasoning":
            summary = "".join(str(s.get("text", "")) for s in item.get("summary") or () if isinstance(s, dict))
            encrypted = item.get("encrypted_content")
            content.append(ThinkingPart(text=summary, signature=encrypted if isinstance(encrypted, str) else None,
                                        signed_by="openai" if encrypted else None))
        elif kind == "function_call":
            calls.append(ToolCall(id=str(item.get("call_id") or ""), name=flat_name(str(item.get("name") or ""),
                                                                                  item.get("namespace")),
                                  arguments=str(item.get("arguments") or "{}")))
    return ChatResponse(id=str(payload.get("id") or ""), model=str(payload.get("model") or ""), content=content,
                        tool_calls=calls, finish_reason=finish_of(payload), usage=parse_usage(payload.get("usage")),
                        created=int(payload.get("created_at") or time.time()), raw=payload, raw_family="responses")


class StreamParser:
    """Upstream Responses events → each event as a RawEvent, followed by its domain meaning."""

    stopped = False  # the stream ends with the connection after `response.completed`

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self.started = False
        self.finish: FinishReason | None = None
        self.usage = Usage()
        self._calls: dict[str, int] = {}  # item id -> tool-call index
        self.failure: dict[str, Any] | None = None  # a `response.failed` or `error` event

    def feed(self, event: dict[str, Any]) -> list[StreamEvent]:
        kind = event.get("type")
        out: list[StreamEvent] = [RawEvent(event)]
        if kind == "response.created":
            response = event.get("response") or {}
            self.started = True
            out.append(StreamStart(id=str(response.get("id") or ""), model=str(response.get("model") or ""),
                                   created=int(response.get("created_at") or time.time())))
        elif kind == "response.output_text.delta":
            out.append(TextDelta(text=str(event.get("delta") or "")))
        elif kind == "response.reasoning_summary_text.delta":
            out.append(ThinkingDelta(text=str(event.get("delta") or "")))
        elif kind == "response.output_item.added" and (event.get("item") or {}).get("type") == "function_call":
            item = event["item"]
            index = self._calls[str(item.get("id"))] = len(self._calls)
            out.append(ToolCallStart(index=index, id=str(item.get("call_id") or ""),
                                     name=flat_name(str(item.get("name") or ""), item.get("namespace"))))
        elif kind == "response.function_call_arguments.delta" and str(event.get("item_id")) in self._calls:
            out.append(ToolCallDelta(index=self._calls[str(event["item_id"])], arguments=str(event.get("delta") or "")))
        elif kind in ("response.completed", "response.incomplete"):
            response = event.get("response") or {}
            self.finish, self.usage = finish_of(response), parse_usage(response.get("usage"))
        elif kind in ("response.failed", "error"):
            self.failure = event
        return out

    def failed(self) -> UpstreamError | None:
        """The error a `response.failed` or `error` event reported, once it has been relayed."""
        if self.failure is None:
            return None
        body = self.failure.get("response", {}).get("error") if self.failure.get("type") == "response.failed" \
            else self.failure
        message = body.get("message") if isinstance(body, dict) else None
        return UpstreamError(f"provider stream error: {message or 'response failed'}", provider=self.provider)

    def end(self) -> StreamEnd:
        return StreamEnd(finish_reason=self.finish or "stop", usage=self.usage)
