"""The OpenAI Responses API: `POST /v1/responses` (streaming and not), `GET` and `DELETE
/v1/responses/{id}`. Routed and served like chat completions (same chat service: routing,
fallback, breakers, caches, metering, headers); the wire translation is adapters/wire/responses,
the conversation kept for `previous_response_id` is the ResponseStore port."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.responses.conversation import deleted_body, document_for, history_of, not_found
from adapters.wire.responses.request import ResponsesContext, parse_request
from adapters.wire.responses.response import encode_response, item_count
from adapters.wire.responses.stream import StreamEncoder, sse
from application.chat import ChatCall, ChatService, StreamOutcome
from domain.chat import StreamEnd, StreamEvent
from domain.ports import ResponseStore
from entrypoints.http.errors import describe, request_id_of
from entrypoints.http.io import (
    cache_inputs,
    json_response,
    meter_outcome,
    read_json,
    served_headers,
    sse_response,
    timing_headers,
)


def register(router: Router) -> None:
    router.add_post("/v1/responses", create_response)
    router.add_get("/v1/responses/{response_id}", get_response)
    router.add_delete("/v1/responses/{response_id}", delete_response)


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


async def create_response(request: Request, chat: ChatService, store: ResponseStore) -> Response:
    body = await read_json(request, chat.max_body_bytes)
    previous = body.get("previous_response_id")
    history = history_of(await store.get(previous), previous) if isinstance(previous, str) and previous else []
    chat_request, context = parse_request(body, history)
    config = chat.resolve_config(body)
    call = ChatCall(chat_request, "chat_completions", config, request_id_of(request), **cache_inputs(request))
    response_id, created_at = new_id("resp"), int(time.time())
    notes = [(b"x-adaptive-notes", "; ".join(context.notes()).encode())] if context.dropped_tools else []
    if call.request.stream:
        outcome = await chat.stream(call)
        if call.meter is not None:
            meter_outcome(call.meter, outcome)  # the meter follows the stream and closes when it ends
        encoder = StreamEncoder(context, response_id=response_id, created_at=created_at, new_id=new_id)
        kept = dataclasses.replace(outcome, events=_kept(outcome, encoder, store, history, context))

        def on_error(exc: BaseException) -> bytes:
            kind, message, _, _ = describe(exc)
            return b"".join(sse(event) for event in encoder.fail(kind, message))

        return sse_response(kept, lambda event: b"".join(sse(e) for e in encoder.feed(event)), on_error,
                            [*notes, *timing_headers(request, outcome)])
    result = await chat.complete(call)
    if call.meter is not None:
        meter_outcome(call.meter, result)
    item_ids = [new_id("item") for _ in range(item_count(result.response))]
    out = encode_response(result.response, context, response_id=response_id, created_at=created_at,
                          item_ids=item_ids)
    if context.store:
        await store.put(response_id, document_for(out, history, context.input_items))
    return json_response(out, headers=[*served_headers(result), *timing_headers(request, result), *notes])


async def _kept(outcome: StreamOutcome, encoder: StreamEncoder, store: ResponseStore,
                history: list[dict[str, Any]], context: ResponsesContext) -> AsyncIterator[StreamEvent]:
    """The stream, unchanged; once it has ended, the finished response is stored (store: true)."""
    async for event in outcome.events:
        yield event
        if isinstance(event, StreamEnd) and context.store:
            await store.put(encoder.response_id, document_for(encoder.final(event), history, context.input_items))


async def get_response(response_id: str, store: ResponseStore) -> Response:
    document = await store.get(response_id)
    if document is None:
        raise not_found(response_id)
    return json_response(document["response"])


async def delete_response(response_id: str, store: ResponseStore) -> Response:
    if not await store.delete(response_id):
        raise not_found(response_id)
    return json_response(deleted_body(response_id))
