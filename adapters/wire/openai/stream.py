"""OpenAI chat.completion.chunk streams: provider chunks -> domain events (StreamParser) and domain
events -> client SSE frames (StreamEncoder)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from adapters.wire.openai.response import FINISH_IN, encode_usage, parse_usage
from domain.chat import (
    FinishReason,
    RawEvent,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    ThinkingDelta,
    ToolCallDelta,
    ToolCallStart,
    Usage,
)


class StreamParser:
    """Feeds provider chunks (parsed JSON) and returns domain events, keeping tool-call indexes."""

    stopped = False  # the stream ends at `data: [DONE]` (adapters/providers/sse.json_chunks)

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
                self.finish = FINISH_IN.get(choice["finish_reason"], "stop")
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
