"""Anthropic-compatible routes: Messages (plain and streamed) and token counting."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.anthropic import CODEC
from application.chat import ChatCall, ChatService
from entrypoints.http.chat_routes import family_headers, handle_chat
from entrypoints.http.errors import request_id_of
from entrypoints.http.io import json_response, read_json


def register(router: Router) -> None:
    router.add_post("/v1/messages", messages)
    router.add_post("/v1/messages/count_tokens", count_tokens)


async def messages(request: Request, chat: ChatService) -> Response:
    return await handle_chat(request, chat, CODEC, await read_json(request, chat.max_body_bytes))


async def count_tokens(request: Request, chat: ChatService) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    parsed = CODEC.parse_request(body)
    parsed.family_headers = family_headers(request, CODEC.forwarded_headers)  # token-counting betas too
    call = ChatCall(parsed, CODEC.endpoint, overrides=body, request_id=request_id_of(request))
    return json_response({"input_tokens": await chat.count_tokens(call)})
