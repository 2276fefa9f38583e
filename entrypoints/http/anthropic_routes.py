"""Anthropic-compatible routes: Messages (plain and streamed) and token counting."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.anthropic_request import parse_request
from adapters.wire.anthropic_response import encode_response
from adapters.wire.anthropic_stream import StreamEncoder
from application.chat import ChatCall, ChatService
from entrypoints.http.errors import describe, error_body, request_id_of
from entrypoints.http.io import cache_inputs, json_response, read_json, served_headers, sse_response
from entrypoints.http.token_count import count_input_tokens


def register(router: Router) -> None:
    router.add_post("/v1/messages", messages)
    router.add_post("/v1/messages/count_tokens", count_tokens)


async def messages(request: Request, chat: ChatService) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    config = chat.resolve_config(body)
    call = ChatCall(parse_request(body), "messages", config, request_id_of(request), **cache_inputs(request))
    if call.request.stream:
        outcome = await chat.stream(call)
        return sse_response(outcome, StreamEncoder().encode, _stream_error)
    result = await chat.complete(call)
    return json_response(encode_response(result.response), headers=served_headers(result))


def _stream_error(exc: BaseException) -> bytes:
    kind, message, param, code = describe(exc)
    return StreamEncoder.error(error_body("anthropic", kind, message, param, code))


async def count_tokens(request: Request, chat: ChatService) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    call = ChatCall(parse_request(body), "messages", chat.resolve_config(body), request_id_of(request))
    return json_response({"input_tokens": await count_input_tokens(chat, call)})
