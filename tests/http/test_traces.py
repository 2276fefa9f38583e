"""OpenTelemetry traces through the app, with the SDK's in-memory exporter: a server span per
request (child of the client's traceparent), a child span per upstream attempt with GenAI
attributes, and the trace context sent on to the upstream."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx2
import orjson
from blacksheep.contents import Content
from blacksheep.testing import TestClient
from dependency_injector import providers
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from adapters.config import settings_from_dict
from adapters.providers.factory import shared_http_client
from adapters.telemetry.otel import Tracing
from container import build_container
from entrypoints.http.app import create_app

CONFIG: dict[str, Any] = {
    "providers": {"up": {"kind": "openai", "base_url": "http://upstream.test/v1", "api_key": "k",
                         "models": {"m1": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}},
    "fallback": {"max_retries": 0},
}
OK = {"id": "c1", "object": "chat.completion", "created": 1, "model": "m1",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_PARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_server_and_attempt_spans_with_genai_attributes_and_propagation() -> None:
    exporter = InMemorySpanExporter()
    tracing = Tracing(SimpleSpanProcessor(exporter))
    seen: list[httpx2.Request] = []

    def upstream(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(200, json=OK)

    container = build_container(settings_from_dict(CONFIG))
    container.tracing.override(providers.Object(tracing))
    # the real client's hooks, a mocked network
    client = shared_http_client(outgoing_headers=tracing.inject_headers, transport=httpx2.MockTransport(upstream))
    container.http_client.override(providers.Object(client))
    app = create_app(container)
    await app.start()
    body = orjson.dumps({"model": "up:m1", "messages": [{"role": "user", "content": "hi"}]})
    response = await TestClient(app).post("/v1/chat/completions", content=Content(b"application/json", body),
                                          headers={"traceparent": CLIENT_PARENT})
    await asyncio.sleep(0)  # records reach the observers on the loop's next turn
    await app.stop()
    assert response.status == 200
    spans = {span.kind: span for span in exporter.get_finished_spans()}
    server, attempt = spans[SpanKind.SERVER], spans[SpanKind.CLIENT]
    assert format(server.context.trace_id, "032x") == TRACE_ID  # continues the client's trace
    assert server.parent is not None and format(server.parent.span_id, "016x") == "00f067aa0ba902b7"
    assert server.name == "POST /v1/chat/completions"
    assert server.attributes["http.response.status_code"] == 200
    assert attempt.parent is not None and attempt.parent.span_id == server.context.span_id
    assert (attempt.attributes["gen_ai.operation.name"], attempt.attributes["gen_ai.provider.name"],
            attempt.attributes["gen_ai.response.model"]) == ("chat", "up", "m1")
    assert (attempt.attributes["gen_ai.usage.input_tokens"], attempt.attributes["gen_ai.usage.output_tokens"]) == (
        3, 2)
    assert tuple(attempt.attributes["gen_ai.response.finish_reasons"]) == ("stop",)
    [sent] = seen
    assert sent.headers["traceparent"].split("-")[1] == TRACE_ID  # propagated upstream
