"""What one API family's wire format must provide to be served by the gateway's one chat handler.

Each family is a package under `adapters/wire/<family>/` exposing ONE object (`CODEC`) that
satisfies `Codec`, and holding the family's modules: `request` (client body -> domain),
`upstream` (domain -> provider body), `response` (provider body -> domain, domain -> client body),
`stream` (provider chunks -> domain events, domain events -> client frames) and `residue` (what a
body says beyond its domain form, for the response cache).

Both sides go through the codec: the HTTP layer (`entrypoints/http/chat_routes.py`) knows no
family, it reads the body, asks the codec for the domain `ChatRequest`, runs the chat use case and
hands the outcome back to the codec to encode, whole or as a stream; a provider adapter
(`adapters/providers/<family>.py`) asks its family's codec for the upstream body and to read the
upstream answer, and owns only transport, auth and endpoint paths.
"""

from __future__ import annotations

from typing import Any, Protocol

from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family, StreamEnd, StreamEvent
from domain.errors import ErrorKind


class StreamEncoding(Protocol):
    """Turns domain stream events into the family's frames; `error` is the in-band last frame."""

    def encode(self, event: StreamEvent) -> bytes: ...

    def error(self, body: dict[str, Any]) -> bytes: ...


class StreamParsing(Protocol):
    """Reads one upstream stream: each parsed JSON chunk in, domain events out; `end` at its end."""

    @property
    def started(self) -> bool:
        """A first chunk arrived."""
        ...

    @property
    def finish(self) -> object:
        """The finish reason, once the upstream gave one (None before)."""
        ...

    @property
    def stopped(self) -> bool:
        """The upstream said its stream is over (Anthropic's `message_stop`): stop reading."""
        ...

    def feed(self, chunk: dict[str, Any]) -> list[StreamEvent]: ...

    def end(self) -> StreamEnd: ...


class Codec(Protocol):
    family: Family  # the wire family (domain.chat.Family)
    endpoint: Endpoint  # the `endpoints.<name>` settings key that enables the family's routes
    # Client headers (lower-case) forwarded to a provider of the same family, never to another.
    forwarded_headers: tuple[str, ...]

    def parse_request(self, body: dict[str, Any], *, model: str | None = None,
                      stream: bool | None = None) -> ChatRequest:
        """Client JSON -> domain request. `model`/`stream` come from the URL when the family puts
        them there (Gemini); None means "read them from the body"."""
        ...

    def encode_response(self, response: ChatResponse, provider: str) -> dict[str, Any]:
        """Domain response -> the family's JSON body."""
        ...

    def stream_encoder(self, request: ChatRequest, provider: str, *, sse: bool = True) -> StreamEncoding:
        """A fresh encoder for one streamed response."""
        ...

    def error_body(self, kind: ErrorKind, message: str, param: str | None = None,
                   code: str | None = None) -> dict[str, Any]:
        """The family's error JSON, the shape its SDK turns into a typed exception."""
        ...

    def build_upstream(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        """Domain request -> the body a provider of this family is sent for `model` (a family that
        puts the model and streaming in the URL, Gemini, ignores them here)."""
        ...

    def parse_upstream(self, body: dict[str, Any]) -> ChatResponse:
        """A provider's whole JSON answer -> the domain response."""
        ...

    def stream_parser(self, provider: str) -> StreamParsing:
        """A fresh parser for one upstream stream of `provider`."""
        ...

    def residue(self, body: dict[str, Any]) -> dict[str, Any]:
        """The client body's answer-changing fields outside the domain form ({} for none); raises
        `adapters.wire.cache_residue.Lossy` when a cached domain response cannot answer it."""
        ...
