"""Gemini stream chunks <-> domain stream events.

Gemini streams whole GenerateContentResponse chunks (SSE `data:` lines with `alt=sse`, else one
JSON array). Function calls arrive complete, never as argument fragments: the encoder holds a call
only until it is complete (the next event that is not its arguments) and sends it then; text goes
out chunk by chunk as it arrives. A thought signature is an event of its own placed just before the
part it signs, so the encoder can put it back on that part for Gemini clients (other families'
encoders ignore it: it would not verify anywhere else).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import orjson

from adapters.wire.gemini.request import get
from adapters.wire.gemini.response import (
    candidate_parts,
    finish_reason,
    function_call,
    parse_usage,
    response_chunk,
    thought_signature,
)
from adapters.wire.tool_arguments import arguments_object
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

log = logging.getLogger(__name__)

class StreamParser:
    """Feeds a provider's stream chunks and returns domain events."""

    stopped = False  # the stream ends with the connection

    def __init__(self, provider: str = "") -> None:
        self.provider = provider
        self.started = False
        self.finish: FinishReason | None = None
        self.usage = Usage()
        self._calls = 0

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]:
        if isinstance(chunk.get("error"), dict):
            error = chunk["error"]
            status = int(error.get("code") or 500)
            raise UpstreamError(f"provider stream error: {error.get('message') or error}", provider=self.provider,
                                status=status, retryable=status >= 500 or status == 429, code=error.get("status"))
        events: list[StreamEvent] = []
        if not self.started:
            self.started = True
            events.append(StreamStart(id=str(chunk.get("responseId") or ""), model=str(chunk.get("modelVersion") or ""),
                                      created=int(time.time())))
        if chunk.get("usageMetadata"):
            self.usage = parse_usage(chunk["usageMetadata"])
        candidates = chunk.get("candidates") or []
        candidate = candidates[0] if candidates and isinstance(candidates[0], dict) else {}
        for part in candidate_parts(candidate):
            signature = thought_signature(part)
            if signature:  # precedes the part it signs, so an encoder can put it back there
                events.append(ThinkingDelta(signature=signature, signed_by="gemini"))
            call = function_call(part)
            if call is not None:
                events.append(ToolCallStart(index=self._calls, id=call.id, name=call.name))
                events.append(ToolCallDelta(index=self._calls, arguments=call.arguments))
                self._calls += 1
            elif isinstance(part.get("text"), str) and part["text"]:
                events.append(ThinkingDelta(text=part["text"]) if part.get("thought") else TextDelta(text=part["text"]))
        if candidate.get("finishReason") or get(chunk.get("promptFeedback"), "blockReason"):
            self.finish = finish_reason(candidate, chunk, self._calls > 0)
        return events

    def end(self) -> StreamEnd:
        return StreamEnd(finish_reason=self.finish or ("tool_calls" if self._calls else "stop"), usage=self.usage)


class StreamEncoder:
    """Domain events -> Gemini stream chunks: SSE `data:` frames, or the pieces of one JSON array."""

    def __init__(self, *, sse: bool = True, provider: str = "") -> None:
        self.sse = sse
        self._provider = provider  # named in every chunk, as in a whole response
        self._model = ""
        self._id = ""
        self._frames = 0
        self._call: list[str] | None = None  # [id, name, arguments] of the call being assembled
        self._call_index = -1
        self._signature: str | None = None  # a Gemini thought signature for the next part

    def _frame(self, payload: dict[str, Any]) -> bytes:
        data = orjson.dumps(payload)
        self._frames += 1
        if self.sse:
            return b"data: " + data + b"\r\n\r\n"
        return (b"[" if self._frames == 1 else b",\r\n") + data

    def _flush_call(self) -> list[dict[str, Any]]:
        if self._call is None:
            return []
        call_id, name, arguments = self._call
        self._call = None
        return [{"functionCall": {"id": call_id, "name": name, "args": arguments_object(arguments)}}]

    def _signed(self, parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self._signature and parts:
            parts[0]["thoughtSignature"] = self._signature
            self._signature = None
        return parts

    def _parts(self, parts: list[dict[str, Any]]) -> bytes:
        parts = self._signed([*self._flush_call(), *parts])
        return self._frame(response_chunk(parts, self._model, self._id, provider=self._provider)) if parts else b""

    def encode(self, event: StreamEvent) -> bytes:
        if isinstance(event, TextDelta):
            return self._parts([{"text": event.text}]) if event.text else b""
        if isinstance(event, ToolCallDelta):
            if self._call is not None and event.index == self._call_index:
                self._call[2] += event.arguments
            else:  # providers stream parallel calls one after the other; interleaving is not expected
                log.debug("dropping arguments for tool call %d, which is already sent", event.index)
            return b""
        if isinstance(event, ToolCallStart):
            out = self._parts([])
            self._call, self._call_index = [event.id, event.name, ""], event.index
            return out
        if isinstance(event, ThinkingDelta):
            out = b""
            if event.signature and event.signed_by == "gemini":
                out = self._parts([])  # what came before is not what this signs
                self._signature = event.signature
            return (out + self._parts([{"text": event.text, "thought": True}])) if event.text else out
        if isinstance(event, StreamStart):
            self._model, self._id = event.model, event.id or uuid.uuid4().hex
            return b""
        if isinstance(event, RawEvent):
            return b""  # relayed only by a passthrough of its own family
        # An empty text part keeps `chunk.text` a string for clients that join the chunks' text.
        parts = self._signed(self._flush_call() or [{"text": ""}])
        out = self._frame(response_chunk(parts, self._model, self._id, event.finish_reason, event.usage,
                                         self._provider))
        return out if self.sse else out + b"]"

    def error(self, body: dict[str, Any]) -> bytes:
        """A mid-stream failure: an `{"error": ...}` chunk, which the google-genai SDK raises on."""
        out = self._frame(body)
        return out if self.sse else out + b"]"
