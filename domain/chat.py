"""The canonical conversation every API family is translated to and from.

Wire adapters turn OpenAI, Anthropic and Gemini JSON into these types and back; provider
adapters send them upstream. Plain dataclasses with slots: they are built on every request,
so they stay cheap and carry no validation machinery.

`raw` fields keep the original wire body of one family (`raw_family`). When the inbound family
and the provider kind match, adapters may pass that body through untouched, which keeps fields
the domain does not model (logprobs, vendor extensions) and avoids a translation round trip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter"]
Family = Literal["openai", "anthropic", "gemini"]
# The wire body a request or response was read from: a chat family, or the OpenAI Responses API.
RawFamily = Literal["openai", "anthropic", "gemini", "responses"]


@dataclass(slots=True)
class TextPart:
    text: str
    # Anthropic prompt-caching marker, e.g. {"type": "ephemeral"}; dropped for other providers.
    cache_control: dict[str, Any] | None = None
    type: Literal["text"] = "text"


@dataclass(slots=True)
class ImagePart:
    """An image given either by URL or inline as base64 data with its media type."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None
    type: Literal["image"] = "image"


@dataclass(slots=True)
class ThinkingPart:
    """Model reasoning shown to the client (Anthropic thinking, Gemini thoughts).

    `signature` is opaque and only verifies at the family that issued it (`signed_by`), so it is
    sent back to that family's providers and never to another's.
    """

    text: str
    signature: str | None = None
    type: Literal["thinking"] = "thinking"
    signed_by: Family | None = None


Part = TextPart | ImagePart | ThinkingPart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model produced it


@dataclass(slots=True)
class Message:
    role: Role
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    # For role == "tool": the call this message answers, and the tool's name when known.
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)  # JSON Schema
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolChoice:
    """auto: model decides; none: no tools; required: must call one; tool: must call `name`."""

    mode: Literal["auto", "none", "required", "tool"] = "auto"
    name: str | None = None
    parallel: bool | None = None


@dataclass(slots=True)
class ResponseFormat:
    """text, json_object (any JSON), or json_schema (with `schema`)."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    schema: dict[str, Any] | None = None
    name: str | None = None
    strict: bool | None = None


ReasoningEffort = Literal["minimal", "low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class Untranslated:
    """A piece of the inbound body the domain does not carry, e.g. `messages[0].content[1]` of
    kind `input_audio`. `known`: a part of the family's API that other families cannot take
    (dropped, with a note, when translating); otherwise not a part the family defines (refused
    when translating). `name`: the tool's name, for server tools."""

    where: str
    kind: str
    known: bool = True
    name: str | None = None


@dataclass(slots=True)
class ChatRequest:
    model: str
    messages: list[Message]
    system: list[TextPart] = field(default_factory=list)
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    stream: bool = False
    include_usage: bool = False  # OpenAI stream_options.include_usage
    n: int = 1
    seed: int | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: ReasoningEffort | None = None
    thinking_budget: int | None = None
    user: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    # The inbound wire body and its family, for same-family passthrough.
    raw: dict[str, Any] | None = None
    raw_family: RawFamily | None = None
    # Headers of the client only a provider of `raw_family` understands (`anthropic-beta`...):
    # sent to such a provider, never to another family's.
    family_headers: dict[str, str] = field(default_factory=dict)
    # What of the inbound body a translation to another family cannot carry (see Untranslated).
    untranslated: list[Untranslated] = field(default_factory=list)

    def has_images(self) -> bool:
        return any(isinstance(p, ImagePart) for m in self.messages for p in m.content)

    def prompt_text(self) -> str:
        """All system and message text, in order: the input the router and caches look at."""
        parts = [p.text for p in self.system]
        parts.extend(m.text() for m in self.messages)
        return "\n".join(p for p in parts if p)

    def last_user_text(self) -> str:
        for m in reversed(self.messages):
            if m.role == "user":
                return m.text()
        return ""


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # all prompt tokens, cached ones included
    output_tokens: int = 0  # all completion tokens, reasoning ones included
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    # The gateway's response cache outcome (miss / exact / semantic) when the cache was in play;
    # reported to clients as `usage.cache_tier`. A hit carries zero tokens: nothing was bought.
    cache_tier: str | None = None

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    content: list[Part] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: FinishReason = "stop"
    usage: Usage = field(default_factory=Usage)
    created: int = 0
    raw: dict[str, Any] | None = None
    raw_family: RawFamily | None = None

    def text(self) -> str:
        return "".join(p.text for p in self.content if isinstance(p, TextPart))


# --- stream events -------------------------------------------------------------------------
# A provider stream yields these in order: one StreamStart, then deltas, then one StreamEnd.
# Tool-call deltas are addressed by `index` (the position of the call in this response).


@dataclass(slots=True)
class StreamStart:
    id: str
    model: str
    created: int = 0
    usage: Usage | None = None  # input usage when the provider reports it up front


@dataclass(slots=True)
class TextDelta:
    text: str


@dataclass(slots=True)
class ThinkingDelta:
    text: str = ""
    signature: str | None = None
    signed_by: Family | None = None  # see ThinkingPart


@dataclass(slots=True)
class ToolCallStart:
    index: int
    id: str
    name: str


@dataclass(slots=True)
class ToolCallDelta:
    index: int
    arguments: str


@dataclass(slots=True)
class StreamEnd:
    finish_reason: FinishReason
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class RawEvent:
    """One event of the provider's own stream, in the inbound request's wire format (`raw_family`),
    for a passthrough: the client's encoder relays it as it is. The domain events around it carry
    the same content, so whatever only reads domain events (usage, caches, records) ignores it."""

    data: dict[str, Any]


StreamEvent = StreamStart | TextDelta | ThinkingDelta | ToolCallStart | ToolCallDelta | StreamEnd | RawEvent


def collect_stream(events: list[StreamEvent]) -> ChatResponse:
    """Assemble a complete response from a finished stream (for caches and usage)."""
    response = ChatResponse(id="", model="")
    text: list[str] = []
    thinking: list[str] = []
    signature: str | None = None
    signed_by: Family | None = None
    calls: dict[int, ToolCall] = {}
    for event in events:
        if isinstance(event, StreamStart):
            response.id, response.model, response.created = event.id, event.model, event.created
        elif isinstance(event, TextDelta):
            text.append(event.text)
        elif isinstance(event, ThinkingDelta):
            thinking.append(event.text)
            if event.signature:
                signature, signed_by = event.signature, event.signed_by
        elif isinstance(event, ToolCallStart):
            calls[event.index] = ToolCall(id=event.id, name=event.name, arguments="")
        elif isinstance(event, ToolCallDelta):
            call = calls.get(event.index)
            if call is not None:
                call.arguments += event.arguments
        elif isinstance(event, StreamEnd):
            response.finish_reason = event.finish_reason
            response.usage = event.usage
    if thinking or signature:
        response.content.append(ThinkingPart(text="".join(thinking), signature=signature, signed_by=signed_by))
    if text:
        response.content.append(TextPart(text="".join(text)))
    response.tool_calls = [calls[i] for i in sorted(calls)]
    return response


def response_events(response: ChatResponse) -> list[StreamEvent]:
    """The stream a complete response would have produced (for replaying cached answers)."""
    events: list[StreamEvent] = [StreamStart(id=response.id, model=response.model, created=response.created)]
    for part in response.content:
        if isinstance(part, ThinkingPart):
            events.append(ThinkingDelta(text=part.text, signature=part.signature, signed_by=part.signed_by))
        elif isinstance(part, TextPart):
            events.append(TextDelta(text=part.text))
    for index, call in enumerate(response.tool_calls):
        events.append(ToolCallStart(index=index, id=call.id, name=call.name))
        events.append(ToolCallDelta(index=index, arguments=call.arguments))
    events.append(StreamEnd(finish_reason=response.finish_reason, usage=response.usage))
    return events
