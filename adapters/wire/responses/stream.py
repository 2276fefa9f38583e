"""Domain stream events → the Responses API's typed SSE events, numbered by `sequence_number`.

One open output item at a time: reasoning summary, then the message, then each function call;
an item is closed (its `.done` events and `response.output_item.done`) before the next opens.
The last event is `response.completed`, `response.incomplete` or `response.failed`, carrying
the whole `response` object.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from adapters.wire.responses import response as wire
from adapters.wire.responses.request import ResponsesContext
from domain.chat import (
    ChatResponse,
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
)

Event = dict[str, Any]
NewId = Callable[[str], str]


def sse(event: Event) -> bytes:
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class StreamEncoder:
    """Feed domain events in order; each call returns the client events they produce."""

    def __init__(self, context: ResponsesContext, *, response_id: str, created_at: int, new_id: NewId) -> None:
        self.context = context
        self.response_id = response_id
        self.created_at = created_at
        self.new_id = new_id
        self.model = ""
        self.sequence = 0
        self.output: list[Event] = []  # finished items
        self.open: Event | None = None  # the item being streamed
        self.text: list[str] = []  # text (or summary / arguments) of the open item
        self.thinking = ThinkingPart(text="")
        self.calls: dict[int, ToolCall] = {}
        self.started = False

    def _emit(self, kind: str, **fields: Any) -> Event:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def _envelope(self, status: str) -> Event:
        return wire.envelope(self.context, self.response_id, self.model, self.created_at, status)

    def feed(self, event: StreamEvent) -> list[Event]:
        if isinstance(event, StreamStart):
            self.model = event.model
            self.started = True
            return [self._emit("response.created", response=self._envelope("in_progress")),
                    self._emit("response.in_progress", response=self._envelope("in_progress"))]
        if isinstance(event, TextDelta):
            return self._text(event.text)
        if isinstance(event, ThinkingDelta):
            return self._thinking(event)
        if isinstance(event, ToolCallStart):
            return self._call_start(event)
        if isinstance(event, ToolCallDelta):
            return self._call_delta(event)
        if isinstance(event, StreamEnd):
            return self._end(event)
        return []  # a RawEvent: only a passthrough relays those (RelayEncoder)

    def _index(self) -> int:
        return len(self.output)

    def _open_item(self, item: Event) -> list[Event]:
        events = self._close()
        self.open, self.text = item, []
        events.append(self._emit("response.output_item.added", output_index=self._index(), item=item))
        return events

    def _text(self, delta: str) -> list[Event]:
        events: list[Event] = []
        if self.open is None or self.open["type"] != "message":
            events = self._open_item(wire.message_item(self.new_id("msg"), "", status="in_progress") | {"content": []})
            events.append(self._emit("response.content_part.added", item_id=self.open_id, output_index=self._index(),
                                     content_index=0, part=wire.output_text("")))
        self.text.append(delta)
        events.append(self._emit("response.output_text.delta", item_id=self.open_id, output_index=self._index(),
                                 content_index=0, delta=delta, logprobs=[]))
        return events

    @property
    def open_id(self) -> str:
        return str(self.open["id"]) if self.open else ""

    def _thinking(self, event: ThinkingDelta) -> list[Event]:
        events: list[Event] = []
        if self.open is None or self.open["type"] != "reasoning":
            self.thinking = ThinkingPart(text="")
            events = self._open_item({"id": self.new_id("rs"), "type": "reasoning", "summary": []})
            events.append(self._emit("response.reasoning_summary_part.added", item_id=self.open_id,
                                     output_index=self._index(), summary_index=0,
                                     part={"type": "summary_text", "text": ""}))
        if event.signature:
            self.thinking.signature, self.thinking.signed_by = event.signature, event.signed_by
        if event.text:
            self.text.append(event.text)
            events.append(self._emit("response.reasoning_summary_text.delta", item_id=self.open_id,
                                     output_index=self._index(), summary_index=0, delta=event.text))
        return events

    def _call_start(self, event: ToolCallStart) -> list[Event]:
        call = ToolCall(id=event.id, name=event.name, arguments="")
        self.calls[event.index] = call
        return self._open_item(wire.call_item(self.new_id("fc"), call, self.context, status="in_progress"))

    def _call_delta(self, event: ToolCallDelta) -> list[Event]:
        call = self.calls.get(event.index)
        if call is None or self.open is None or self.open.get("call_id") != call.id:
            return []  # a delta for a call that is not the open item: providers stream calls one by one
        call.arguments += event.arguments
        self.text.append(event.arguments)
        if self.open["type"] != "function_call":
            return []  # custom tools get their input whole, at done
        return [self._emit("response.function_call_arguments.delta", item_id=self.open_id,
                           output_index=self._index(), delta=event.arguments)]

    def _close(self) -> list[Event]:
        item, self.open = self.open, None
        if item is None:
            return []
        text, index = "".join(self.text), self._index()
        events: list[Event] = []
        if item["type"] == "message":
            events.append(self._emit("response.output_text.done", item_id=item["id"], output_index=index,
                                     content_index=0, text=text, logprobs=[]))
            part = wire.output_text(text)
            events.append(self._emit("response.content_part.done", item_id=item["id"], output_index=index,
                                     content_index=0, part=part))
            item = wire.message_item(item["id"], text)
        elif item["type"] == "reasoning":
            events.append(self._emit("response.reasoning_summary_text.done", item_id=item["id"],
                                     output_index=index, summary_index=0, text=text))
            events.append(self._emit("response.reasoning_summary_part.done", item_id=item["id"], output_index=index,
                                     summary_index=0, part={"type": "summary_text", "text": text}))
            self.thinking.text = text
            item = wire.reasoning_item(item["id"], self.thinking, self.context)
        else:
            call = next(c for c in self.calls.values() if c.id == item["call_id"])
            item = wire.call_item(item["id"], call, self.context)
            if item["type"] == "function_call":
                events.append(self._emit("response.function_call_arguments.done", item_id=item["id"],
                                         output_index=index, arguments=call.arguments, name=item["name"]))
        events.append(self._emit("response.output_item.done", output_index=index, item=item))
        self.output.append(item)
        return events

    def _end(self, event: StreamEnd) -> list[Event]:
        events = self._close()
        if not self.output:  # an empty answer is still one (empty) message
            events.extend(self._text(""))
            events.extend(self._close())
        final = self.final(event)
        kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
        events.append(self._emit(kind, response=final))
        return events

    def final(self, event: StreamEnd) -> Event:
        out = self._envelope(wire.status_of(event.finish_reason))
        if out["status"] == "incomplete":
            reason = "content_filter" if event.finish_reason == "content_filter" else "max_output_tokens"
            out["incomplete_details"] = {"reason": reason}
        out["output"] = list(self.output)
        out["usage"] = wire.encode_usage(event.usage)
        return out

    def fail(self, code: str, message: str) -> list[Event]:
        """The stream broke: `response.failed` (after `response.created` if none was sent)."""
        events: list[Event] = []
        if not self.started:
            self.started = True
            events.append(self._emit("response.created", response=self._envelope("in_progress")))
        body = wire.failed(self._envelope("failed"), code, message)
        body["output"] = list(self.output)
        events.append(self._emit("response.failed", response=body))
        return events


def collected(response: ChatResponse) -> list[StreamEvent]:
    """A whole response as the stream events that would have produced it (cache hits replay this)."""
    events: list[StreamEvent] = [StreamStart(id=response.id, model=response.model, created=response.created)]
    for part in response.content:
        if isinstance(part, ThinkingPart):
            events.append(ThinkingDelta(text=part.text, signature=part.signature, signed_by=part.signed_by))
    text = "".join(p.text for p in response.content if isinstance(p, TextPart))
    if text:
        events.append(TextDelta(text=text))
    for index, call in enumerate(response.tool_calls):
        events.append(ToolCallStart(index=index, id=call.id, name=call.name))
        events.append(ToolCallDelta(index=index, arguments=call.arguments))
    events.append(StreamEnd(finish_reason=response.finish_reason, usage=response.usage))
    return events


_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed", "error"})


class RelayEncoder:
    """A passthrough stream: the provider's own events (RawEvent) go to the client unchanged,
    the domain events beside them are not encoded. Same interface as StreamEncoder."""

    def __init__(self) -> None:
        self.response: Event = {}  # the latest `response` object the upstream sent
        self.sequence = 0
        self.ended = False

    @property
    def response_id(self) -> str:
        return str(self.response.get("id") or "")

    def feed(self, event: StreamEvent) -> list[Event]:
        if not isinstance(event, RawEvent):
            return []
        data = event.data
        if isinstance(data.get("response"), dict):
            self.response = data["response"]
        if isinstance(data.get("sequence_number"), int):
            self.sequence = data["sequence_number"] + 1
        self.ended = self.ended or data.get("type") in _TERMINAL
        return [data]

    def final(self, event: StreamEnd) -> Event:
        return self.response

    def fail(self, code: str, message: str) -> list[Event]:
        """After a terminal event the upstream has told the client already; else `response.failed`."""
        if self.ended:
            return []
        self.ended = True
        body = wire.failed({**self.response, "status": "failed"}, code, message)
        return [{"type": "response.failed", "sequence_number": self.sequence, "response": body}]
