"""The Anthropic Messages codec."""

from __future__ import annotations

from typing import Any

from adapters.wire.anthropic_request import parse_request
from adapters.wire.anthropic_response import encode_response
from adapters.wire.anthropic_stream import StreamEncoder
from adapters.wire.codec import Codec, StreamEncoding
from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family


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


CODEC: Codec = AnthropicCodec()
