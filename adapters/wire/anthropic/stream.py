"""Anthropic Messages stream events <-> domain stream events.

`StreamParser` reads a provider's events; `StreamEncoder` writes what an Anthropic client expects,
with the real event sequence (`message_start`, `content_block_start`, `ping`,
`content_block_delta` (`text_delta`, `input_json_delta`, `thinking_delta`, `signature_delta`),
`content_block_stop`, `message_delta`, `message_stop`; `error` on a mid-stream failure; no
`[DONE]`). Events are translated one at a time, never buffered to the end.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from adapters.wire.anthropic.response import (
    ERROR_STATUS,
    STOP_IN,
    STOP_OUT,
    anthropic_signature,
    encode_usage,
    message_id,
    parse_usage,
)
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
from domain.errors import UpstreamError


class StreamParser:
    """Feeds a provider's stream events (parsed `data` JSON) and returns domain events."""

    def __init__(self, provider: str = "") -> None:
        self.provider = provider
        self.started = False
        self.finish: FinishReason | None = None
        self.stopped = False
        self.usage = Usage()
        self._tools: dict[int, int] = {}  # content block index -> tool call index

    def feed(self, data: dict[str, Any]) -> list[StreamEvent]:
        kind = data.get("type")
        if kind == "content_block_delta":
            return self._delta(data)
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "message_start":
            message = data.get("message") or {}
            self.started = True
            self.usage = parse_usage(message.get("usage"))
            return [StreamStart(id=str(message.get("id") or ""), model=str(message.get("model") or ""),
                                created=int(time.time()), usage=self.usage)]
        if kind == "message_delta":
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason:
                self.finish = STOP_IN.get(reason, "stop")
            self.usage = parse_usage(data.get("usage"), self.usage)
        elif kind == "message_stop":
            self.stopped = True
        elif kind == "error":
            error = data.get("error") or {}
            status = ERROR_STATUS.get(str(error.get("type")), 500)
            raise UpstreamError(f"provider stream error: {error.get('message') or error}", provider=self.provider,
                                status=status,
                                retryable=status >= 500 or status == 429, code=error.get("type"))
        return []

    def _block_start(self, data: dict[str, Any]) -> list[StreamEvent]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "tool_use":
            index = len(self._tools)
            self._tools[int(data.get("index", 0))] = index
            events: list[StreamEvent] = [ToolCallStart(index=index, id=str(block.get("id") or f"toolu_{index}"),
                                                       name=str(block.get("name") or ""))]
            if block.get("input"):  # some servers send the whole input up front
                events.append(ToolCallDelta(index=index, arguments=orjson.dumps(block["input"]).decode()))
            return events
        if kind == "text" and block.get("text"):
            return [TextDelta(text=block["text"])]
        if kind == "thinking" and block.get("thinking"):
            return [ThinkingDelta(text=block["thinking"])]
        return []

    def _delta(self, data: dict[str, Any]) -> list[StreamEvent]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta":
            return [TextDelta(text=str(delta.get("text") or ""))]
        if kind == "input_json_delta":
            index = self._tools.get(int(data.get("index", 0)))
            fragment = delta.get("partial_json") or ""
            return [ToolCallDelta(index=index, arguments=fragment)] if index is not None and fragment else []
        if kind == "thinking_delta":
            return [ThinkingDelta(text=str(delta.get("thinking") or ""))]
        if kind == "signature_delta":
            return [ThinkingDelta(signature=delta.get("signature"), signed_by="anthropic")]
        return []

    def end(self) -> StreamEnd:
        return StreamEnd(finish_reason=self.finish or "stop", usage=self.usage)


def _event(name: bytes, data: dict[str, Any]) -> bytes:
    return b"event: " + name + b"\ndata: " + orjson.dumps(data) + b"\n\n"


_PING = b'event: ping\ndata: {"type":"ping"}\n\n'


class StreamEncoder:
    """Domain events -> Anthropic SSE events, opening and closing content blocks as kinds change."""

    def __init__(self, provider: str = "") -> None:
        self._provider = provider  # named in message_start's message, as in a whole Message
        self._next_block = 0
        self._open: tuple[str, int] | None = None  # (kind, block index) of the open block
        self._tool_blocks: dict[int, int] = {}  # tool call index -> block index
        self._pinged = False

    def _close(self) -> bytes:
        if self._open is None:
            return b""
        _, index = self._open
        self._open = None
        return _event(b"content_block_stop", {"type": "content_block_stop", "index": index})

    def _start(self, kind: str, block: dict[str, Any]) -> bytes:
        out = self._close()
        index = self._next_block
        self._next_block += 1
        self._open = (kind, index)
        out += _event(b"content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": block})
        if not self._pinged:
            self._pinged = True
            out += _PING
        return out

    def _block(self, kind: str, block: dict[str, Any]) -> tuple[bytes, int]:
        if self._open is not None and self._open[0] == kind:
            return b"", self._open[1]
        out = self._start(kind, block)
        return out, self._next_block - 1

    def _delta(self, index: int, delta: dict[str, Any]) -> bytes:
        return _event(b"content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            if not event.text:
                return b""
            out, index = self._block("text", {"type": "text", "text": ""})
            return out + self._delta(index, {"type": "text_delta", "text": event.text})
        if isinstance(event, ToolCallDelta):
            block = self._tool_blocks.get(event.index)
            if block is None or not event.arguments:
                return b""
            return self._delta(block, {"type": "input_json_delta", "partial_json": event.arguments})
        if isinstance(event, ToolCallStart):
            out = self._start("tool_use", {"type": "tool_use", "id": event.id, "name": event.name, "input": {}})
            self._tool_blocks[event.index] = self._next_block - 1
            return out
        if isinstance(event, ThinkingDelta):
            signature = anthropic_signature(event)
            if not event.text and not signature:
                return b""
            out, index = self._block("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            if event.text:
                out += self._delta(index, {"type": "thinking_delta", "thinking": event.text})
            if signature:
                out += self._delta(index, {"type": "signature_delta", "signature": signature})
            return out
        if isinstance(event, StreamStart):
            message: dict[str, Any] = {
                "id": message_id(event.id), "type": "message", "role": "assistant", "model": event.model,
                "content": [], "stop_reason": None, "stop_sequence": None,
                "usage": {**encode_usage(event.usage or Usage()), "output_tokens": 0}, "provider": self._provider}
            return _event(b"message_start", {"type": "message_start", "message": message})
        if isinstance(event, RawEvent):
            return b""  # relayed only by a passthrough of its own family
        out = self._close()
        if not self._pinged:
            out += _PING
        out += _event(b"message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": STOP_OUT[event.finish_reason], "stop_sequence": None},
                                         "usage": encode_usage(event.usage)})
        return out + _event(b"message_stop", {"type": "message_stop"})

    @staticmethod
    def error(body: dict[str, Any]) -> bytes:
        """A mid-stream failure: `event: error` (what the anthropic SDK raises on)."""
        return _event(b"error", body)
