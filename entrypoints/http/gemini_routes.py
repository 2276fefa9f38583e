"""Gemini-compatible routes: generateContent, streamGenerateContent and countTokens.

`/{v1beta|v1|v1alpha}/models/{model}:{method}` is matched with a catch-all and split on the LAST
colon, because a gateway model id may itself hold one (`openai:gpt-4o-mini:generateContent`).
The current google-genai SDK calls `/v1/...` by default, older ones `/v1beta/...`. `/v1/generate`
and `/v1/generate/stream` take the model from the body instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from blacksheep import Request, Response, StreamedContent
from blacksheep.server.routing import Router

from adapters.wire.gemini_request import get, parse_request
from adapters.wire.gemini_response import encode_response
from adapters.wire.gemini_stream import StreamEncoder
from application.chat import ChatCall, ChatService, StreamOutcome
from domain.errors import InvalidRequest, NotFound
from entrypoints.http.errors import describe, error_body, request_id_of
from entrypoints.http.io import cache_inputs, json_response, read_json, served_headers, sse_response
from entrypoints.http.token_count import count_input_tokens

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
    call = ChatCall(parse_request(body, model, stream=stream), "gemini", chat.resolve_config(body),
                    request_id_of(request), **cache_inputs(request))
    if not stream:
        result = await chat.complete(call)
        return json_response(encode_response(result.response), headers=served_headers(result))
    outcome = await chat.stream(call)
    encoder = StreamEncoder(sse="sse" in request.query.get("alt", ()) or request.path.endswith("/stream"))

    def on_error(exc: BaseException) -> bytes:
        kind, message, param, code = describe(exc)
        return encoder.error(error_body("gemini", kind, message, param, code))

    if encoder.sse:
        return sse_response(outcome, encoder.encode, on_error)
    return _json_array_response(outcome, encoder, on_error)


def _json_array_response(outcome: StreamOutcome, encoder: StreamEncoder, on_error: Any) -> Response:
    """Without `alt=sse` Gemini streams one JSON array, element by element."""

    async def body() -> AsyncIterator[bytes]:
        events = outcome.events
        try:
            async for event in events:
                frame = encoder.encode(event)
                if frame:
                    yield frame
        except Exception as exc:  # mid-stream: report in-band as the array's last element
            yield on_error(exc)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    headers = [(b"cache-control", b"no-cache"), *served_headers(outcome)]
    return Response(200, headers, StreamedContent(b"application/json", body))


async def _count(request: Request, chat: ChatService, body: dict[str, Any], model: str) -> Response:
    inner = get(body, "generateContentRequest", "generate_content_request")
    generate_body = inner if isinstance(inner, dict) else body
    call = ChatCall(parse_request(generate_body, model, stream=False), "gemini", chat.resolve_config(body),
                    request_id_of(request))
    return json_response({"totalTokens": await count_input_tokens(chat, call)})
