"""OpenAI-compatible routes: chat completions and the model list."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.openai import CODEC
from application.chat import ChatService
from entrypoints.http.chat_routes import handle_chat
from entrypoints.http.io import json_response, read_json


def register(router: Router) -> None:
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_get("/v1/models", list_models)


async def chat_completions(request: Request, chat: ChatService) -> Response:
    return await handle_chat(request, chat, CODEC, await read_json(request, chat.max_body_bytes))


async def list_models(chat: ChatService) -> Response:
    data = [{"id": model_id, "object": "model", "created": 0, "owned_by": provider}
            for provider, model_id in chat.available_models()]
    return json_response({"object": "list", "data": data})
