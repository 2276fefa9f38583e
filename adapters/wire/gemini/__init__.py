"""The Gemini generateContent codec. The model (and whether to stream) come from the URL."""

from __future__ import annotations

from typing import Any

from adapters.wire.codec import Codec, StreamEncoding, StreamParsing
from adapters.wire.gemini.request import parse_request
from adapters.wire.gemini.residue import residue as body_residue
from adapters.wire.gemini.response import encode_response, parse_response
from adapters.wire.gemini.stream import StreamEncoder, StreamParser
from adapters.wire.gemini.upstream import build_request
from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family
from domain.errors import ErrorKind, status_for

# google.rpc status per domain error kind, as google-genai reads it.
GOOGLE_STATUS: dict[ErrorKind, str] = {
    "invalid_request": "INVALID_ARGUMENT",
    "authentication": "UNAUTHENTICATED",
    "payment_required": "FAILED_PRECONDITION",
    "permission": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND",
    "payload_too_large": "INVALID_ARGUMENT",
    "rate_limited": "RESOURCE_EXHAUSTED",
    "internal": "INTERNAL",
    "upstream": "UNAVAILABLE",
    "unavailable": "UNAVAILABLE",
    "timeout": "DEADLINE_EXCEEDED",
    "overloaded": "UNAVAILABLE",
}


class GeminiCodec:
    family: Family = "gemini"
    endpoint: Endpoint = "gemini"
    forwarded_headers: tuple[str, ...] = ()  # see docs/translation.md

    def parse_request(self, body: dict[str, Any], *, model: str | None = None,
                      stream: bool | None = None) -> ChatRequest:
        return parse_request(body, model or "", stream=bool(stream))

    def encode_response(self, response: ChatResponse, provider: str) -> dict[str, Any]:
        return encode_response(response, provider)

    def stream_encoder(self, request: ChatRequest, provider: str, *, sse: bool = True) -> StreamEncoding:
        return StreamEncoder(sse=sse, provider=provider)

    def error_body(self, kind: ErrorKind, message: str, param: str | None = None,
                   code: str | None = None) -> dict[str, Any]:
        return {"error": {"code": status_for("gemini", kind), "message": message, "status": GOOGLE_STATUS[kind]}}

    def build_upstream(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return build_request(request)

    def parse_upstream(self, body: dict[str, Any]) -> ChatResponse:
        return parse_response(body)

    def stream_parser(self, provider: str) -> StreamParsing:
        return StreamParser(provider)

    def residue(self, body: dict[str, Any]) -> dict[str, Any]:
        return body_residue(body)


CODEC: Codec = GeminiCodec()
