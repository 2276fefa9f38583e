"""Prometheus metrics (prometheus-client): a `RequestObserver` updating counters and histograms,
and the text exposition served on `GET /metrics`.

Every metric is in the `adaptive_proxy_` namespace; docs/telemetry.md lists them with the
OpenTelemetry GenAI names beside them. Updating one is a dict look-up and an add: constant time,
and it runs after the response is written (the records are dispatched on the loop's next turn).

With several workers (`serve --workers N`) each is its own process: the serve command points
`PROMETHEUS_MULTIPROC_DIR` at a fresh directory, prometheus-client then keeps each worker's
values in memory-mapped files there, and a scrape of any worker adds them all up.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from application.clock import SYSTEM_CLOCK
from domain.ports import Clock
from domain.telemetry import RequestRecord

NAMESPACE = "adaptive_proxy"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Seconds. Fine below 5 ms (the gateway's own overhead lives there), then up to long generations.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075,
                    0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
REJECTIONS = {"rate_limited": "rate_limited", "payment_required": "budget_or_credit"}
CONTENT_TYPE = CONTENT_TYPE_LATEST
State = Callable[[], dict[str, Any]]


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class PrometheusMetrics:
    """The gateway's metrics; `observe` is the request observer, `exposition` the scrape."""

    def __init__(self, registry: CollectorRegistry | None = None, clock: Clock = SYSTEM_CLOCK,
                 refresh_every_s: float = 1.0) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r, ns = self.registry, NAMESPACE
        self.requests = Counter("requests", "Requests answered, by family, provider, model, selection source "
                                "and status class", ["family", "provider", "model", "selection", "status_class"],
                                namespace=ns, registry=r)
        self.in_flight = Gauge("in_flight_requests", "Requests being served now", namespace=ns, registry=r,
                               multiprocess_mode="livesum")
        self.duration = Histogram("request_duration_seconds", "Whole request time (streams: until the last byte)",
                                  ["family", "provider", "model"], buckets=LATENCY_BUCKETS, namespace=ns,
                                  registry=r)
        self.upstream = Histogram("upstream_duration_seconds", "Time spent waiting on upstream providers",
                                  ["provider", "model"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.overhead = Histogram("gateway_overhead_seconds", "Request time minus time waiting on upstreams",
                                  ["family"], buckets=OVERHEAD_BUCKETS, namespace=ns, registry=r)
        self.ttft = Histogram("time_to_first_token_seconds", "Streams: time until the first text token",
                              ["provider", "model"], buckets=LATENCY_BUCKETS, namespace=ns, registry=r)
        self.tokens = Counter("tokens", "Tokens by provider, model and type (input, cached, output, reasoning)",
                              ["provider", "model", "type"], namespace=ns, registry=r)
        self.cost = Counter("cost_usd", "Cost in USD from the catalog prices", ["provider", "model"],
                            namespace=ns, registry=r)
        self.response_cache = Counter("response_cache_lookups", "Response-cache lookups by tier "
                                      "(exact, semantic, miss)", ["tier"], namespace=ns, registry=r)
        self.routing_cache = Counter("routing_cache_lookups", "Routing-decision cache lookups by tier "
                                     "(exact, semantic, miss)", ["tier"], namespace=ns, registry=r)
        self.router_decisions = Counter("router_decisions", "Router decisions by chosen model", ["provider", "model"],
                                        namespace=ns, registry=r)
        self.router_saved = Counter("router_saved_usd", "Estimated USD saved against always choosing the best "
                                    "candidate", namespace=ns, registry=r)
        self.fallbacks = Counter("fallback_attempts", "Upstream attempts that failed and moved on, by reason",
                                 ["reason"], namespace=ns, registry=r)
        self.rejections = Counter("rejections", "Requests refused by rate limits or budgets/credits", ["reason"],
                                  namespace=ns, registry=r)
        self.breaker_state = Gauge("breaker_state", "Circuit breaker per key: 0 closed, 1 half-open, 2 open",
                                   ["key"], namespace=ns, registry=r, multiprocess_mode="max")
        self.breaker_transitions = Counter("breaker_transitions", "Circuit breaker transitions", ["key", "to"],
                                           namespace=ns, registry=r)
        self.usage_queue = Gauge("usage_queue_depth", "Usage records waiting to be written", namespace=ns,
                                 registry=r, multiprocess_mode="livesum")
        self.usage_written = Gauge("usage_records_written", "Usage records written (per process, since start)",
                                   namespace=ns, registry=r, multiprocess_mode="livesum")
        self.usage_spilled = Gauge("usage_records_spilled", "Usage records spilled to the file (since start)",
                                   namespace=ns, registry=r, multiprocess_mode="livesum")
        self.usage_shed = Gauge("usage_requests_shed", "Requests refused (503): the usage ledger could not keep up",
                                namespace=ns, registry=r, multiprocess_mode="livesum")
        self.usage_failures = Gauge("usage_write_failures", "Failed usage batch writes (since start)",
                                    namespace=ns, registry=r, multiprocess_mode="livesum")
        self.spill_bytes = Gauge("usage_spill_file_bytes", "Size of the usage spill file", namespace=ns,
                                 registry=r, multiprocess_mode="max")
        self.component_up = Gauge("component_up", "1 when a backing service (redis, database) answers, else 0",
                                  ["component"], namespace=ns, registry=r, multiprocess_mode="min")
        self._clock = clock
        self._refresh_every_s = refresh_every_s
        self._refreshed = float("-inf")
        self._state: list[State] = []
        self._children: dict[tuple[str, str, str, str, int], tuple[Any, ...]] = {}

    # --- the request observer ---------------------------------------------------------------

    def opened(self) -> None:
        self.in_flight.inc()

    def observe(self, record: RequestRecord) -> None:
        self.in_flight.dec()
        key = (record.family or "none", record.provider or "", record.model or "", record.selection_source or "",
               record.status // 100)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._children_for(*key)
        requests, duration, overhead, upstream, ttft, tokens, cost = children
        requests.inc()
        duration.observe(record.total_ms / 1000)
        if record.error_kind in REJECTIONS:
            self.rejections.labels(REJECTIONS[record.error_kind]).inc()
        if not record.chat:
            return
        overhead.observe(record.overhead_ms / 1000)
        if record.provider is None:
            return
        upstream.observe(record.upstream_ms / 1000)
        if record.ttft_ms is not None:
            ttft.observe(record.ttft_ms / 1000)
        for counter, count in zip(tokens, (record.input_tokens, record.cached_tokens, record.output_tokens,
                                           record.reasoning_tokens), strict=True):
            if count:
                counter.inc(count)
        if record.cost_usd:
            cost.inc(float(record.cost_usd))
        if record.cache_tier:
            self.response_cache.labels(record.cache_tier).inc()
        source = record.selection_source
        if source in ("cache_exact", "cache_semantic"):
            self.routing_cache.labels(source.removeprefix("cache_")).inc()
        elif source == "router":
            self.routing_cache.labels("miss").inc()
        if source in ("router", "cache_exact", "cache_semantic", "external"):
            self.router_decisions.labels(record.provider, record.model or "").inc()
            if record.best_cost_usd is not None and record.cost_usd is not None:
                self.router_saved.inc(max(0.0, float(record.best_cost_usd - record.cost_usd)))
        if self._clock.monotonic() - self._refreshed >= self._refresh_every_s:
            self.refresh()

    def _children_for(self, family: str, provider: str, model: str, selection: str, status: int) -> tuple[Any, ...]:
        """The labelled series one kind of request updates, looked up once (labels() is the slow part)."""
        tokens = tuple(self.tokens.labels(provider, model, kind) for kind in ("input", "cached", "output",
                                                                                "reasoning"))
        return (self.requests.labels(family, provider, model, selection, f"{status}xx"),
                self.duration.labels(family, provider, model), self.overhead.labels(family),
                self.upstream.labels(provider, model), self.ttft.labels(provider, model), tokens,
                self.cost.labels(provider, model))

    # --- the executor's events --------------------------------------------------------------

    def breaker_changed(self, key: str, before: str, after: str) -> None:
        self.breaker_state.labels(key).set(BREAKER_STATES.get(after, 0))
        self.breaker_transitions.labels(key, after).inc()

    def attempt_failed(self, key: str, reason: str) -> None:
        self.fallbacks.labels(reason).inc()

    # --- process state, read at most once a second and at each scrape ------------------------

    def watch(self, state: State) -> None:
        """`state()` returns {"usage": writer.stats(), "spill_bytes": n, "redis": bool, "database": bool}."""
        self._state.append(state)

    def refresh(self) -> None:
        self._refreshed = self._clock.monotonic()
        for state in self._state:
            try:
                values = state()
            except Exception:  # a broken reading never breaks a request or a scrape
                continue
            usage = values.get("usage")
            if usage:
                self.usage_queue.set(usage.get("queued", 0))
                self.usage_written.set(usage.get("written", 0))
                self.usage_spilled.set(usage.get("spilled", 0))
                self.usage_failures.set(usage.get("failed_writes", 0))
                self.usage_shed.set(usage.get("shed", 0))
            if "spill_bytes" in values:
                self.spill_bytes.set(values["spill_bytes"])
            for component in ("redis", "database"):
                if component in values:
                    self.component_up.labels(component).set(1 if values[component] else 0)

    def exposition(self) -> bytes:
        """The text format of every metric; with several workers, all workers' values added up."""
        self.refresh()
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
