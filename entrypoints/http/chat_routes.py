"""The one chat handler every API family shares, parameterised by the family's codec.

A family's routes (openai_routes, anthropic_routes, gemini_routes) only find the body, the model
and the stream flag where that family puts them, then call `handle_chat` with their codec.
"""

from __future__ import annotations

from typing import Any

from blacksheep import Request, Response

from adapters.wire.codec import Codec
from application.chat import ChatCall, ChatService
from entrypoints.http.errors import describe, error_body, request_id_of
from entrypoints.http.io import (
    cache_inputs,
    json_response,
    meter_outcome,
    served_headers,
    sse_response,
    stream_response,
    timing_headers,
)


async def handle_chat(request: Request, chat: ChatService, codec: Codec, body: dict[str, Any], *,
                      model: str | None = None, stream: bool | None = None, sse: bool = True) -> Response:
    """Complete or stream one chat in `codec`'s wire format. `sse=False` streams one JSON array
    (Gemini without `alt=sse`)."""
    parsed = codec.parse_request(body, model=model, stream=stream)
    call = ChatCall(parsed, codec.endpoint, chat.resolve_config(body), request_id_of(request),
                    **cache_inputs(request))
    if not parsed.stream:
        result = await chat.complete(call)
        if call.meter is not None:
            meter_outcome(call.meter, result)
        return json_response(codec.encode_response(result.response, result.target.provider),
                             headers=[*served_headers(result), *timing_headers(request, result)])
    outcome = await chat.stream(call)
    if call.meter is not None:
        meter_outcome(call.meter, outcome)  # the meter follows the stream and closes when it ends
    encoder = codec.stream_encoder(parsed, outcome.target.provider, sse=sse)

    def stream_error(exc: BaseException) -> bytes:
        kind, message, param, code = describe(exc)
        return encoder.error(error_body(codec.family, kind, message, param, code))

    timing = timing_headers(request, outcome)
    if sse:
        return sse_response(outcome, encoder.encode, stream_error, timing)
    return stream_response(outcome, encoder.encode, stream_error, b"application/json", timing)
