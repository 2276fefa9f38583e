"""The OpenAI Chat Completions codec."""

from __future__ import annotations

from typing import Any

from adapters.wire.codec import Codec, StreamEncoding, StreamParsing
from adapters.wire.openai.request import parse_request
from adapters.wire.openai.residue import residue as body_residue
from adapters.wire.openai.response import encode_response, parse_response
from adapters.wire.openai.stream import StreamEncoder, StreamParser
from adapters.wire.openai.upstream import build_request
from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family
from domain.errors import ErrorKind

# Error `type` per domain error kind, as the OpenAI SDK reads it.
ERROR_TYPE: dict[ErrorKind, str] = {
    "invalid_request": "invalid_request_error",
    "authentication": "authentication_error",
    "payment_required": "insufficient_quota",
    "permission": "permission_error",
    "not_found": "not_found_error",
    "payload_too_large": "invalid_request_error",
    "rate_limited": "rate_limit_error",
}


class OpenAICodec:
    family: Family = "openai"
    endpoint: Endpoint = "chat_completions"
    forwarded_headers: tuple[str, ...] = ("openai-beta",)  # see docs/translation.md

    def parse_request(self, body: dict[str, Any], *, model: str | None = None,
                      stream: bool | None = None) -> ChatRequest:
        return parse_request(body)

    def encode_response(self, response: ChatResponse, provider: str) -> dict[str, Any]:
        return encode_response(response, provider)

    def stream_encoder(self, request: ChatRequest, provider: str, *, sse: bool = True) -> StreamEncoding:
        return StreamEncoder(provider, request.include_usage)

    def error_body(self, kind: ErrorKind, message: str, param: str | None = None,
                   code: str | None = None) -> dict[str, Any]:
        return {"error": {"message": message, "type": ERROR_TYPE.get(kind, "api_error"), "param": param,
                          "code": code}}

    def build_upstream(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        return build_request(request, model, stream=stream)

    def parse_upstream(self, body: dict[str, Any]) -> ChatResponse:
        return parse_response(body)

    def stream_parser(self, provider: str) -> StreamParsing:
        return StreamParser()

    def residue(self, body: dict[str, Any]) -> dict[str, Any]:
        return body_residue(body)


CODEC: Codec = OpenAICodec()
