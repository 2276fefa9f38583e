"""Traces from a real `adaptive-proxy serve` to an in-process OTLP/HTTP receiver: the server span
continues the client's traceparent, the attempt span carries GenAI attributes, and the fake
upstream received the trace context."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import openai
import pytest
import uvicorn
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.e2e.conftest import free_port, three_provider_config
from tests.e2e.test_telemetry import serving

pytestmark = pytest.mark.e2e
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


@contextlib.contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            received.append(request)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/x-protobuf")]})
        await send({"type": "http.response.body", "body": b""})

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_spans_reach_an_otlp_receiver(fake, tmp_path_factory: pytest.TempPathFactory) -> None:
    with otlp_receiver() as (endpoint, received):
        config = three_provider_config(fake.url, telemetry={"otlp_endpoint": endpoint})
        with serving(config, tmp_path_factory.mktemp("otlp")) as (url, _):
            client = openai.OpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)
            client.chat.completions.create(model="fake_openai:gpt-4o-mini",
                                           messages=[{"role": "user", "content": "trace me"}],
                                           extra_headers={"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01"})
            upstream_headers = fake.last_request["headers"]
        # stopping the gateway flushes the batched spans
    spans = [span for request in received for rs in request.resource_spans for ss in rs.scope_spans
             for span in ss.spans]
    by_name = {span.name: span for span in spans}
    server, attempt = by_name["POST /v1/chat/completions"], by_name["chat gpt-4o-mini"]
    assert server.trace_id.hex() == TRACE_ID and server.parent_span_id.hex() == "00f067aa0ba902b7"
    assert attempt.parent_span_id == server.span_id
    attributes = {a.key: a.value for a in attempt.attributes}
    assert attributes["gen_ai.provider.name"].string_value == "fake_openai"
    assert attributes["gen_ai.usage.input_tokens"].int_value > 0
    assert upstream_headers["traceparent"].split("-")[1] == TRACE_ID
