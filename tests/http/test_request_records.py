"""One RequestRecord per chat request, through HTTP and through the library."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import orjson
from blacksheep.contents import Content
from blacksheep.testing import TestClient
from dependency_injector import providers

from adapters.config import settings_from_dict
from container import build_container
from domain.telemetry import RequestRecord
from entrypoints.http.app import create_app

CONFIG: dict[str, Any] = {
    "providers": {
        "up": {"kind": "openai", "base_url": "http://upstream.test/v1", "api_key": "k",
               "models": {"m1": {}, "m2": {}}},
    },
    "fallback": {"on_manual_override": True, "max_retries": 0},
}
OK = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m1",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


class Collect:
    def __init__(self) -> None:
        self.records: list[RequestRecord] = []

    def observe(self, record: RequestRecord) -> None:
        self.records.append(record)


async def start(upstream: Any) -> tuple[TestClient, Collect, Any]:
    async def no_wait(_: float) -> None:
        return None

    container = build_container(settings_from_dict(CONFIG))
    container.sleep.override(providers.Object(no_wait))
    container.http_client.override(providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(upstream))))
    seen = Collect()
    container.observers().add(seen)
    app = create_app(container)
    await app.start()
    return TestClient(app), seen, app


def body(**extra: object) -> bytes:
    return orjson.dumps({"model": "up:m1", "messages": [{"role": "user", "content": "hi"}], **extra})


async def settled() -> None:
    """Records reach the observers on the event loop's next turn (after the response is written)."""
    await asyncio.sleep(0)


async def post(client: TestClient, **extra: object) -> Any:
    response = await client.post("/v1/chat/completions", content=Content(b"application/json", body(**extra)))
    await settled()
    return response


async def test_completion_gives_one_success_record() -> None:
    client, seen, app = await start(lambda r: httpx2.Response(200, json=OK))
    response = await post(client)
    assert response.status == 200
    [record] = seen.records
    assert (record.outcome, record.status, record.streamed, record.family) == ("success", 200, False, "openai")
    assert (record.provider, record.model, record.requested_model) == ("up", "m1", "up:m1")
    assert (record.input_tokens, record.output_tokens, record.attempts, record.fallbacks) == (3, 2, ("up:m1",), 0)
    assert record.total_ms >= record.upstream_ms > 0
    assert record.request_id
    assert (record.route, record.method, record.chat) == ("/v1/chat/completions", "POST", True)
    await app.stop()


async def test_stream_gives_one_record_when_it_ends() -> None:
    chunks = [{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
               "choices": [{"index": 0, "delta": {"content": "he"}, "finish_reason": None}]},
              {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
               "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
              {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1", "choices": [],
               "usage": {"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5}}]
    sse = b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    client, seen, app = await start(
        lambda r: httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"}))
    response = await post(client, stream=True)
    assert "he" in await response.text()
    await settled()
    [record] = seen.records
    assert (record.outcome, record.status, record.streamed) == ("success", 200, True)
    assert (record.input_tokens, record.output_tokens) == (4, 1)
    assert record.ttft_ms is not None and record.ttft_ms <= record.total_ms
    await app.stop()


async def test_upstream_error_with_fallback_records_both_attempts() -> None:
    def upstream(request: httpx2.Request) -> httpx2.Response:
        if orjson.loads(request.content)["model"] == "m1":
            return httpx2.Response(503, json={"error": {"message": "overloaded"}})
        return httpx2.Response(200, json={**OK, "model": "m2"})

    client, seen, app = await start(upstream)
    response = await post(client)
    assert response.status == 200
    [record] = seen.records
    assert record.attempts == ("up:m1", "up:m2") and record.fallbacks == 1
    assert (record.outcome, record.model) == ("success", "m2")
    await app.stop()


async def test_rejected_request_gives_one_error_record() -> None:
    client, seen, app = await start(lambda r: httpx2.Response(200, json=OK))
    response = await post(client, model="nobody:nothing")
    assert response.status == 400
    [record] = seen.records
    assert (record.outcome, record.status, record.error_kind) == ("error", 400, "invalid_request")
    await app.stop()


async def test_library_proxy_chat_gives_a_record() -> None:
    from domain.chat import ChatRequest, Message, TextPart
    from entrypoints.library import ChatCall
    from entrypoints.library.proxy import Proxy

    proxy = Proxy(settings_from_dict(CONFIG))
    proxy.container.http_client.override(providers.Object(httpx2.AsyncClient(
        transport=httpx2.MockTransport(lambda r: httpx2.Response(200, json=OK)))))
    seen = Collect()
    proxy.add_observer(seen)
    await proxy.start()
    try:
        service = proxy.chat
        request = ChatRequest(model="up:m1", messages=[Message(role="user", content=[TextPart("hi")])])
        await service.complete(ChatCall(request, "chat_completions", service.resolve_config({}), "lib-1"))
    finally:
        await proxy.stop()
    [record] = seen.records
    assert (record.request_id, record.outcome, record.provider, record.input_tokens) == ("lib-1", "success", "up", 3)


async def test_refused_body_and_other_routes_get_one_record_each() -> None:
    client, seen, app = await start(lambda r: httpx2.Response(200, json=OK))
    bad = await client.post("/v1/chat/completions", content=Content(b"application/json", b'{"model": 3}'))
    models = await client.get("/v1/models")
    missing = await client.get("/v1/nothing-here")
    await settled()
    assert (bad.status, models.status, missing.status) == (400, 200, 404)
    assert [(r.route, r.status, r.chat, r.error_kind) for r in seen.records] == [
        ("/v1/chat/completions", 400, False, "invalid_request"),
        ("/v1/models", 200, False, None),
        ("/v1/nothing-here", 404, False, "not_found"),
    ]
    assert all(r.total_ms > 0 and r.method for r in seen.records)
    await app.stop()


async def test_chat_answer_carries_cost_overhead_and_server_timing() -> None:
    priced = {**CONFIG, "providers": {"up": {**CONFIG["providers"]["up"],
                                             "models": {"m1": {"input_per_mtok": 1000.0, "output_per_mtok": 2000.0}}}}}
    chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1",
             "choices": [{"index": 0, "delta": {"content": "he"}, "finish_reason": "stop"}]}
    sse = b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n"

    def upstream(request: httpx2.Request) -> httpx2.Response:
        if b'"stream":true' in request.content:
            return httpx2.Response(200, content=sse, headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=OK)

    container = build_container(settings_from_dict(priced))
    container.http_client.override(providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(upstream))))
    app = create_app(container)
    await app.start()
    response = await post(TestClient(app))
    assert response.headers.get_first(b"x-adaptive-cost-usd") == b"0.007"  # 3 in at $1000/M + 2 out at $2000/M
    overhead = float(response.headers.get_first(b"x-adaptive-overhead-ms"))
    timing = response.headers.get_first(b"server-timing").decode()
    assert timing.startswith(f"gateway;dur={overhead:.2f}") and ", upstream;dur=" in timing
    stream = await post(TestClient(app), stream=True)
    assert stream.status == 200
    assert stream.headers.get_first(b"x-adaptive-cost-usd") is None  # not known before the answer
    assert stream.headers.get_first(b"server-timing") is not None
    await app.stop()
