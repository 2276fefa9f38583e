"""The OpenAI Chat Completions codec."""

from __future__ import annotations

from typing import Any

from adapters.wire.codec import Codec, StreamEncoding
from adapters.wire.openai_chat import parse_request
from adapters.wire.openai_response import StreamEncoder, encode_response
from application.settings import Endpoint
from domain.chat import ChatRequest, ChatResponse, Family


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


CODEC: Codec = OpenAICodec()
