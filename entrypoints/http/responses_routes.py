"""The OpenAI Responses API: `POST /v1/responses` (streaming and not), `GET` and `DELETE
/v1/responses/{id}`. Routed and served like chat completions (same chat service: routing,
fallback, breakers, caches, metering, headers); the wire translation is adapters/wire/responses,
and a provider that has the Responses API gets the body passed through (its answer relayed as is);
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
from adapters.wire.responses.request import ResponsesContext, hosted_choice_refused, parse_request
from adapters.wire.responses.response import encode_response, item_count
from adapters.wire.responses.stream import RelayEncoder, StreamEncoder, sse
from application.chat import ChatCall, ChatService
from application.request_config import RequestConfig
from domain.chat import RawEvent, StreamEnd, StreamEvent
from domain.errors import describe
from domain.ports import ResponseStore
from entrypoints.http.errors import request_id_of
from entrypoints.http.io import cache_inputs, json_response, read_json, served_headers, sse_response, timing_headers


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
    call = ChatCall(chat_request, "chat_completions", overrides=body, request_id=request_id_of(request),
                    **cache_inputs(request))
    if context.required_hosted:  # only a pinned passthrough provider runs a required hosted tool
        call.config = chat.resolve_config(body)
        if not _pinned_passthrough(chat_request.model, call.config):
            raise hosted_choice_refused(context)
    response_id, created_at = new_id("resp"), int(time.time())
    if call.request.stream:
        outcome = await chat.stream(call)
        first, events = await _peek(outcome.events)
        relayed = isinstance(first, RawEvent)  # a passthrough: the provider's own events
        encoder: StreamEncoder | RelayEncoder = (
            RelayEncoder() if relayed else
            StreamEncoder(context, response_id=response_id, created_at=created_at, new_id=new_id))
        kept = dataclasses.replace(outcome, events=_kept(events, encoder, store, history, context))

        def on_error(exc: BaseException) -> bytes:
            kind, message, _, _ = describe(exc)
            return b"".join(sse(event) for event in encoder.fail(kind, message))

        return sse_response(kept, lambda event: b"".join(sse(e) for e in encoder.feed(event)), on_error,
                            [*_notes(context, relayed), *timing_headers(request, outcome)], request)
    result = await chat.complete(call)
    relayed = result.response.raw_family == "responses" and result.response.raw is not None
    if relayed and result.response.raw is not None:
        out = result.response.raw  # a passthrough: the provider's own response object
    else:
        item_ids = [new_id("item") for _ in range(item_count(result.response))]
        out = encode_response(result.response, context, response_id=response_id, created_at=created_at,
                              item_ids=item_ids)
    if context.store and isinstance(out.get("id"), str):
        await store.put(out["id"], document_for(out, history, context.input_items))
    return json_response(out, headers=[*served_headers(result), *timing_headers(request, result),
                                       *_notes(context, relayed)])


def _pinned_passthrough(model: str, config: RequestConfig) -> bool:
    """A `provider:model` whose provider has the Responses API, with no fallback to a translated one."""
    provider = config.providers.get(model.partition(":")[0]) if ":" in model else None
    may_fall_back = config.fallback.on_manual_override or config.fallback_requested
    return provider is not None and provider.has_responses_api and not may_fall_back


def _notes(context: ResponsesContext, relayed: bool) -> list[tuple[bytes, bytes]]:
    """Hosted tools are dropped only when translated: a passthrough provider runs them."""
    if relayed or not context.dropped_tools:
        return []
    return [(b"x-adaptive-notes", "; ".join(context.notes()).encode())]


async def _peek(events: AsyncIterator[StreamEvent]) -> tuple[StreamEvent | None, AsyncIterator[StreamEvent]]:
    """The stream's first event (already arrived: the use case waited for it), and the whole stream."""
    try:
        first = await anext(aiter(events))
    except StopAsyncIteration:
        return None, events

    async def whole() -> AsyncIterator[StreamEvent]:
        try:
            yield first
            async for event in events:
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    return first, whole()


async def _kept(events: AsyncIterator[StreamEvent], encoder: StreamEncoder | RelayEncoder, store: ResponseStore,
                history: list[dict[str, Any]], context: ResponsesContext) -> AsyncIterator[StreamEvent]:
    """The stream, unchanged; once it has ended, the finished response is stored (store: true)."""
    async for event in events:
        yield event
        if isinstance(event, StreamEnd) and context.store and encoder.response_id:
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
