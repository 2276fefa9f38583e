"""What one API family's wire format must provide to be served by the gateway's one chat handler.

Each family is a package under `adapters/wire/<family>/` exposing ONE object (`CODEC`) that
satisfies `Codec`. The HTTP layer (`entrypoints/http/chat_routes.py`) knows no family: it reads
the body, asks the codec for the domain `ChatRequest`, runs the chat use case, and hands the
outcome back to the codec to encode, whole or as a stream.
"""

from __future__ import annotations

from typing import Any, Protocol

from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family, StreamEvent
from domain.errors import ErrorKind


class StreamEncoding(Protocol):
    """Turns domain stream events into the family's frames; `error` is the in-band last frame."""

    def encode(self, event: StreamEvent) -> bytes: ...

    def error(self, body: dict[str, Any]) -> bytes: ...


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
