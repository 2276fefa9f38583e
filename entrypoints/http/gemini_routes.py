"""Gemini-compatible routes: generateContent, streamGenerateContent and countTokens.

`/{v1beta|v1|v1alpha}/models/{model}:{method}` is matched with a catch-all and split on the LAST
colon, because a gateway model id may itself hold one (`openai:gpt-4o-mini:generateContent`).
The current google-genai SDK calls `/v1/...` by default, older ones `/v1beta/...`. `/v1/generate`
and `/v1/generate/stream` take the model from the body instead.
"""

from __future__ import annotations

from typing import Any

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.gemini import CODEC
from adapters.wire.gemini.request import get
from application.chat import ChatCall, ChatService
from domain.errors import InvalidRequest, NotFound
from entrypoints.http.chat_routes import handle_chat
from entrypoints.http.errors import request_id_of
from entrypoints.http.io import json_response, read_json

_METHODS = ("generateContent", "streamGenerateContent", "countTokens")


def register(router: Router) -> None:
    for version in ("v1beta", "v1", "v1alpha"):
        router.add_post(f"/{version}/models/*", model_method)
    router.add_post("/v1/generate", generate)
    router.add_post("/v1/generate/stream", generate_stream)


def _model_name(model: str) -> str:
    return model.removeprefix("models/")


async def model_method(request: Request, chat: ChatService) -> Response:
    model, _, method = str(request.route_values.get("tail") or "").rpartition(":")
    if not model or method not in _METHODS:
        raise NotFound(f"method {method!r} is not supported; use one of {', '.join(_METHODS)}")
    body = await read_json(request, chat.max_body_bytes)
    if method == "countTokens":
        return await _count(request, chat, body, _model_name(model))
    return await _generate(request, chat, body, _model_name(model), stream=method == "streamGenerateContent")


async def generate(request: Request, chat: ChatService) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    return await _generate(request, chat, body, _body_model(body), stream=bool(body.get("stream")))


async def generate_stream(request: Request, chat: ChatService) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    return await _generate(request, chat, body, _body_model(body), stream=True)


def _body_model(body: dict[str, Any]) -> str:
    model = body.get("model") or ""
    if not isinstance(model, str):
        raise InvalidRequest("model must be a string", param="model", code="INVALID_ARGUMENT")
    return _model_name(model)


async def _generate(request: Request, chat: ChatService, body: dict[str, Any], model: str, *,
                    stream: bool) -> Response:
    # Without `alt=sse` Gemini streams one JSON array, element by element.
    sse = "sse" in request.query.get("alt", ()) or request.path.endswith("/stream")
    return await handle_chat(request, chat, CODEC, body, model=model, stream=stream, sse=sse)


async def _count(request: Request, chat: ChatService, body: dict[str, Any], model: str) -> Response:
    inner = get(body, "generateContentRequest", "generate_content_request")
    generate_body = inner if isinstance(inner, dict) else body
    call = ChatCall(CODEC.parse_request(generate_body, model=model, stream=False), CODEC.endpoint,
                    overrides=body, request_id=request_id_of(request))
    return json_response({"totalTokens": await chat.count_tokens(call)})
