"""The Anthropic Messages codec."""

from __future__ import annotations

from typing import Any

from adapters.wire.anthropic.request import parse_request
from adapters.wire.anthropic.residue import residue as body_residue
from adapters.wire.anthropic.response import encode_response, parse_response
from adapters.wire.anthropic.stream import StreamEncoder, StreamParser
from adapters.wire.anthropic.upstream import build_request
from adapters.wire.codec import Codec, StreamEncoding, StreamParsing
from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family
from domain.errors import ErrorKind

# Error `type` per domain error kind, as the anthropic SDK maps it to its exception classes.
ERROR_TYPE: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "payment_required": "billing_error",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "payload_too_large": "request_too_large",
    "rate_limited": "rate_limit_error",
    "unavailable": "overloaded_error",
    "timeout": "timeout_error",
    "overloaded": "overloaded_error",
}


class AnthropicCodec:
    family: Family = "anthropic"
    endpoint: Endpoint = "messages"
    forwarded_headers: tuple[str, ...] = ("anthropic-beta",)  # see docs/translation.md

    def parse_request(self, body: dict[str, Any], *, model: str | None = None,
                      stream: bool | None = None) -> ChatRequest:
        return parse_request(body)

    def encode_response(self, response: ChatResponse, provider: str) -> dict[str, Any]:
        return encode_response(response, provider)

    def stream_encoder(self, request: ChatRequest, provider: str, *, sse: bool = True) -> StreamEncoding:
        return StreamEncoder(provider)

    def error_body(self, kind: ErrorKind, message: str, param: str | None = None,
                   code: str | None = None) -> dict[str, Any]:
        return {"type": "error", "error": {"type": ERROR_TYPE.get(kind, "api_error"), "message": message}}

    def build_upstream(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return build_request(request, model, stream=stream)

    def parse_upstream(self, body: dict[str, Any]) -> ChatResponse:
        return parse_response(body)

    def stream_parser(self, provider: str) -> StreamParsing:
        return StreamParser(provider)

    def residue(self, body: dict[str, Any]) -> dict[str, Any]:
        return body_residue(body)


CODEC: Codec = AnthropicCodec()
