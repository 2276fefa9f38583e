"""OpenAI chat-completion responses and stream chunks <-> domain.chat.

`parse_*` read what an OpenAI-compatible provider sent; `encode_*` write what an OpenAI client
expects. Stream chunks are translated one at a time: nothing is buffered to the end.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from domain.chat import (
    ChatResponse,
    FinishReason,
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

_FINISH_IN: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


def parse_usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    prompt = raw.get("prompt_tokens_details") or {}
    completion = raw.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=int(raw.get("prompt_tokens") or 0),
        output_tokens=int(raw.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt.get("cached_tokens") or raw.get("prompt_cache_hit_tokens") or 0),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
    )


def encode_usage(usage: Usage) -> dict[str, Any]:
    out: dict[str, Any] = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cache_read_tokens},
        "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
    }
    if usage.cache_tier:
        out["cache_tier"] = usage.cache_tier
    return out


def _tool_calls(raw: Any) -> list[ToolCall]:
    calls = []
    for i, item in enumerate(raw or []):
        fn = item.get("function") or {}
        calls.append(ToolCall(id=item.get("id") or f"call_{i}", name=fn.get("name") or "",
                              arguments=fn.get("arguments") or ""))
    return calls


def parse_response(body: dict[str, Any]) -> ChatResponse:
    """A provider's chat.completion body -> ChatResponse (the first choice; `raw` keeps all)."""
    choices = body.get("choices") or [{}]
    choice = choices[0]
    message = choice.get("message") or {}
    content: list[Any] = []
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str) and reasoning:
        content.append(ThinkingPart(text=reasoning))
    if isinstance(message.get("content"), str) and message["content"]:
        content.append(TextPart(text=message["content"]))
    refusal = message.get("refusal")
    finish = _FINISH_IN.get(choice.get("finish_reason") or "stop", "stop")
    if isinstance(refusal, str) and refusal:
        content.append(TextPart(text=refusal))
        finish = "content_filter"
    return ChatResponse(
        id=body.get("id") or "",
        model=body.get("model") or "",
        content=content,
        tool_calls=_tool_calls(message.get("tool_calls")),
        finish_reason=finish,
        usage=parse_usage(body.get("usage")),
        created=int(body.get("created") or time.time()),
        raw=body,
        raw_family="openai",
    )


def encode_response(response: ChatResponse, provider: str) -> dict[str, Any]:
    """ChatResponse -> the chat.completion body an OpenAI client parses, naming the provider."""
    if response.raw_family == "openai" and response.raw is not None:
        body = {**response.raw, "provider": provider}
        if response.usage.cache_tier:
            body["usage"] = {**(body.get("usage") or {}), "cache_tier": response.usage.cache_tier}
        return body
    message: dict[str, Any] = {"role": "assistant", "content": response.text() or None}
    thinking = "".join(p.text for p in response.content if isinstance(p, ThinkingPart))
    if thinking:
        message["reasoning_content"] = thinking
    if response.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in response.tool_calls
        ]
    return {
        "id": response.id or "chatcmpl-proxy",
        "object": "chat.completion",
        "created": response.created or int(time.time()),
        "model": response.model,
        "provider": provider,
        "choices": [{"index": 0, "message": message, "finish_reason": response.finish_reason,
                     "logprobs": None}],
        "usage": encode_usage(response.usage),
    }


class StreamParser:
    """Feeds provider chunks (parsed JSON) and returns domain events, keeping tool-call indexes."""

    def __init__(self) -> None:
        self.started = False
        self.finish: FinishReason | None = None
        self.usage = Usage()
        self._seen_calls: set[int] = set()

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if not self.started:
            self.started = True
            events.append(StreamStart(id=chunk.get("id") or "", model=chunk.get("model") or "",
                                      created=int(chunk.get("created") or time.time())))
        if chunk.get("usage"):
            self.usage = parse_usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                events.append(ThinkingDelta(text=reasoning))
            text = delta.get("content")
            if isinstance(text, str) and text:
                events.append(TextDelta(text=text))
            for call in delta.get("tool_calls") or ():
                index = int(call.get("index", 0))
                fn = call.get("function") or {}
                if index not in self._seen_calls:
                    self._seen_calls.add(index)
                    events.append(ToolCallStart(index=index, id=call.get("id") or f"call_{index}",
                                                name=fn.get("name") or ""))
                if fn.get("arguments"):
                    events.append(ToolCallDelta(index=index, arguments=fn["arguments"]))
            if choice.get("finish_reason"):
                self.finish = _FINISH_IN.get(choice["finish_reason"], "stop")
        return events

    def end(self) -> StreamEnd:
        return StreamEnd(finish_reason=self.finish or "stop", usage=self.usage)


class StreamEncoder:
    """Domain events -> `data: {...}` SSE frames of chat.completion.chunk objects."""

    def __init__(self, provider: str, include_usage: bool) -> None:
        self.provider = provider
        self.include_usage = include_usage
        self._head: dict[str, Any] = {"id": "chatcmpl-proxy", "object": "chat.completion.chunk",
                                      "created": int(time.time()), "model": "", "provider": provider}

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return b"data: " + orjson.dumps({**self._head, "choices": choices, **extra}) + b"\n\n"

    def _delta(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        return self._frame([{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}])

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._delta({"content": event.text})
        if isinstance(event, ToolCallDelta):
            return self._delta({"tool_calls": [{"index": event.index, "function": {"arguments": event.arguments}}]})
        if isinstance(event, ToolCallStart):
            call = {"index": event.index, "id": event.id, "type": "function",
                    "function": {"name": event.name, "arguments": ""}}
            return self._delta({"tool_calls": [call]})
        if isinstance(event, ThinkingDelta):
            return self._delta({"reasoning_content": event.text}) if event.text else b""
        if isinstance(event, StreamStart):
            self._head["id"] = event.id or self._head["id"]
            self._head["model"] = event.model
            self._head["created"] = event.created or self._head["created"]
            return self._delta({"role": "assistant", "content": ""})
        if isinstance(event, RawEvent):
            return b""  # relayed only by a passthrough of its own family
        out = self._delta({}, finish=event.finish_reason)
        if self.include_usage:
            out += self._frame([], usage=encode_usage(event.usage))
        return out + b"data: [DONE]\n\n"

    @staticmethod
    def error(body: dict[str, Any]) -> bytes:
        """A mid-stream failure: the error object as a data frame (what the openai SDK raises on)."""
        return b"data: " + orjson.dumps(body) + b"\n\n"
