"""The one chat handler every API family shares, parameterised by the family's codec.

A family's routes (openai_routes, anthropic_routes, gemini_routes) only find the body, the model
and the stream flag where that family puts them, then call `handle_chat` with their codec.
"""

from __future__ import annotations

from typing import Any

from blacksheep import Request, Response

from adapters.wire.codec import Codec
from adapters.wire.untranslated import translation_notes
from application.chat import ChatCall, ChatService
from domain.errors import describe
from entrypoints.http.errors import request_id_of
from entrypoints.http.io import (
    cache_inputs,
    json_response,
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
    parsed.family_headers = family_headers(request, codec.forwarded_headers)
    call = ChatCall(parsed, codec.endpoint, overrides=body, request_id=request_id_of(request),
                    **cache_inputs(request))
    if not parsed.stream:
        result = await chat.complete(call)
        return json_response(codec.encode_response(result.response, result.target.provider),
                             headers=[*served_headers(result), *timing_headers(request, result),
                                      *_notes(call, result.target.provider)])
    outcome = await chat.stream(call)
    encoder = codec.stream_encoder(parsed, outcome.target.provider, sse=sse)

    def stream_error(exc: BaseException) -> bytes:
        kind, message, param, code = describe(exc)
        return encoder.error(codec.error_body(kind, message, param, code))

    extra = [*timing_headers(request, outcome), *_notes(call, outcome.target.provider)]
    if sse:
        return sse_response(outcome, encoder.encode, stream_error, extra, request=request)
    return stream_response(outcome, encoder.encode, stream_error, b"application/json", extra, request=request)


def family_headers(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    """The client's values of the family's forwarded headers (repeated ones joined by commas)."""
    out: dict[str, str] = {}
    for name in names:
        values = request.get_headers(name.encode())
        if values:
            out[name] = ",".join(v.decode("latin-1") for v in values)
    return out


def _notes(call: ChatCall, provider: str) -> list[tuple[bytes, bytes]]:
    """`x-adaptive-notes` naming what a translation for `provider` dropped (none when nothing was)."""
    settings = call.config.providers.get(provider) if call.config is not None else None  # resolved by now
    notes = translation_notes(call.request, settings.kind) if settings is not None else []
    if not notes:
        return []
    text = "".join(c if " " <= c <= "~" else "?" for c in "; ".join(notes))  # client text: one safe line
    return [(b"x-adaptive-notes", text.encode())]
