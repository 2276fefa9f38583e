"""OpenAI-compatible routes: chat completions and the model list."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.openai_chat import parse_request
from adapters.wire.openai_response import StreamEncoder, encode_response
from application.chat import ChatCall, ChatService
from entrypoints.http.errors import describe, error_body
from entrypoints.http.io import cache_inputs, json_response, read_json, served_headers, sse_response


def register(router: Router) -> None:
    router.add_post("/v1/chat/completions", chat_completions)
    router.add_get("/v1/models", list_models)


async def chat_completions(request: Request, chat: ChatService) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    config = chat.resolve_config(body)
    call = ChatCall(parse_request(body), "chat_completions", config, getattr(request, "request_id", ""),
                    **cache_inputs(request))
    if call.request.stream:
        outcome = await chat.stream(call)
        encoder = StreamEncoder(outcome.target.provider, call.request.include_usage)
        return sse_response(outcome, encoder.encode, _stream_error)
    result = await chat.complete(call)
    return json_response(encode_response(result.response, result.target.provider), headers=served_headers(result))


def _stream_error(exc: BaseException) -> bytes:
    kind, message, param, code = describe(exc)
    return StreamEncoder.error(error_body("openai", kind, message, param, code))


async def list_models(chat: ChatService) -> Response:
    data = [{"id": model_id, "object": "model", "created": 0, "owned_by": provider}
            for provider, model_id in chat.available_models()]
    return json_response({"object": "list", "data": data})
