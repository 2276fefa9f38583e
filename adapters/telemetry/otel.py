"""OpenTelemetry traces (the optional `otel` extra): a server span per request, a child span per
upstream attempt with GenAI semantic-convention attributes, W3C trace context in and out.

Off unless `telemetry.otlp_endpoint` or `OTEL_EXPORTER_OTLP_ENDPOINT` is set (or a test hands in
its own span processor). The server span starts when the request arrives, as a child of the
client's `traceparent` when it sent one, and is current while the request runs, so the shared
HTTP client's request hook (`inject_headers`) sends `traceparent` to the upstream. It ends when
the request's RequestRecord arrives (`observe`): the record's facts become its attributes, and
one child span per upstream attempt is recorded under it (the served attempt spans the time
spent waiting on upstreams; attempts that failed before it carry no timing of their own).
Prompt and completion content are never recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from adapters.telemetry import tracing_endpoint
from application.settings import Settings
from domain.telemetry import RequestRecord

log = logging.getLogger(__name__)
OPERATION = {"openai": "chat", "anthropic": "chat", "gemini": "chat", "responses": "chat",
             "embeddings": "embeddings"}


def otlp_processor(endpoint: str) -> SpanProcessor | None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        log.warning("traces: %s is set but the OTLP exporter is not installed "
                    "(pip install 'adaptive-proxy[otel]'); no traces are sent", endpoint)
        return None
    url = endpoint if endpoint.rstrip("/").endswith("/v1/traces") else endpoint.rstrip("/") + "/v1/traces"
    return BatchSpanProcessor(OTLPSpanExporter(endpoint=url))


class Tracing:
    """Starts the server span of each request and ends it from the request's record."""

    def __init__(self, processor: SpanProcessor, service_name: str = "adaptive-proxy") -> None:
        self.provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        self.provider.add_span_processor(processor)
        self._tracer = self.provider.get_tracer("adaptive_proxy")
        self._open: dict[str, tuple[trace.Span, int]] = {}

    def start(self, request_id: str, method: str, path: str, headers: Mapping[str, str]) -> object:
        """Open the request's server span and make it current; returns the token for `detach`."""
        parent = propagate.extract(headers)
        span = self._tracer.start_span(f"{method} {path}", context=parent, kind=SpanKind.SERVER,
                                       attributes={"http.request.method": method, "url.path": path})
        self._open[request_id] = (span, time.time_ns())
        return otel_context.attach(trace.set_span_in_context(span, parent))

    @staticmethod
    def detach(token: object) -> None:
        otel_context.detach(token)  # type: ignore[arg-type]

    @staticmethod
    def inject_headers(headers: Any) -> None:
        """Write `traceparent` (and `tracestate`) of the current span into outgoing `headers`."""
        propagate.inject(headers)

    def observe(self, record: RequestRecord) -> None:
        opened = self._open.pop(record.request_id, None)
        if opened is None:
            return
        span, started_ns = opened
        end_ns = time.time_ns()
        span.set_attribute("http.response.status_code", record.status)
        if record.family:
            span.set_attribute("gen_ai.operation.name", OPERATION.get(record.family, "chat"))
        if record.provider:
            span.set_attributes(_genai(record))
        if record.error_kind:
            span.set_attribute("error.type", record.error_kind)
        if record.status >= 500 or record.outcome == "error":
            span.set_status(Status(StatusCode.ERROR, record.error_kind or ""))
        parent = trace.set_span_in_context(span)
        served_start = max(started_ns, end_ns - int(record.upstream_ms * 1e6))
        for i, attempt in enumerate(record.attempts):
            provider, _, model = attempt.partition(":")
            last = i == len(record.attempts) - 1
            child = self._tracer.start_span(f"chat {model}", context=parent, kind=SpanKind.CLIENT,
                                            start_time=served_start if last else started_ns)
            child.set_attributes({"gen_ai.operation.name": "chat", "gen_ai.provider.name": provider,
                                  "gen_ai.request.model": model})
            if last and record.provider == provider and record.outcome != "error":
                child.set_attributes(_genai(record))
            else:
                child.set_status(Status(StatusCode.ERROR, "attempt failed"))
            child.end(end_time=end_ns if last else served_start)
        span.end(end_time=end_ns)

    def shutdown(self) -> None:
        self.provider.shutdown()


def _genai(record: RequestRecord) -> dict[str, Any]:
    attributes: dict[str, Any] = {"gen_ai.provider.name": record.provider or "",
                                  "gen_ai.request.model": record.requested_model or record.model or "",
                                  "gen_ai.response.model": record.model or "",
                                  "gen_ai.usage.input_tokens": record.input_tokens,
                                  "gen_ai.usage.output_tokens": record.output_tokens}
    if record.cached_tokens:
        attributes["gen_ai.usage.cache_read.input_tokens"] = record.cached_tokens
    if record.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [record.finish_reason]
    if record.selection_source:
        attributes["adaptive_proxy.selection"] = record.selection_source
    if record.cost_usd is not None:
        attributes["adaptive_proxy.cost_usd"] = float(record.cost_usd)
    return attributes


def tracing_for(settings: Settings) -> Tracing | None:
    endpoint = tracing_endpoint(settings)
    if not endpoint:
        return None
    processor = otlp_processor(endpoint)
    return Tracing(processor, settings.telemetry.service_name) if processor is not None else None
