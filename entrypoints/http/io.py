"""Reading JSON bodies and writing JSON / SSE responses, with the gateway's response headers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import orjson
from blacksheep import Content, Request, Response, StreamedContent

from application.chat import ChatOutcome, StreamOutcome
from application.metering import RequestMeter, metered_events
from application.observation import Exchange
from domain.errors import STATUS, InvalidRequest, PayloadTooLarge
from entrypoints.http.errors import describe

JSON = b"application/json"


async def read_json(request: Request, max_bytes: int) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        raise InvalidRequest("request body is empty; expected a JSON object")
    if len(raw) > max_bytes:
        raise PayloadTooLarge(f"request body exceeds {max_bytes} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc.msg}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def json_response(payload: Any, status: int = 200, headers: list[tuple[bytes, bytes]] | None = None) -> Response:
    return Response(status, headers, Content(JSON, orjson.dumps(payload)))


def served_headers(outcome: ChatOutcome | StreamOutcome) -> list[tuple[bytes, bytes]]:
    """The x-adaptive-* headers for an outcome."""
    headers = [
        (b"x-adaptive-provider", outcome.target.provider.encode()),
        (b"x-adaptive-model", outcome.target.model.encode()),
        (b"x-adaptive-selection", outcome.selection.source.encode()),
    ]
    if outcome.cache_tier:
        headers.append((b"x-adaptive-cache", outcome.cache_tier.encode()))
    return headers


def cache_inputs(request: Request) -> dict[str, Any]:
    """What ChatCall needs from the HTTP request besides the body: its Cache-Control header, the
    principal the access gate admitted and the request's usage meter (both set by the access
    middleware, entrypoints/http/access.py), and where its RequestRecord goes (the request's
    Exchange, set by the gateway middleware)."""
    header = request.get_first_header(b"cache-control")
    exchange: Exchange | None = getattr(request, "exchange", None)
    return {"cache_control": header.decode("latin-1") if header else None,
            "principal": getattr(request, "principal", None), "meter": getattr(request, "meter", None),
            "report": exchange.chat_report() if exchange is not None else None}


def timing_headers(request: Request, outcome: ChatOutcome | StreamOutcome) -> list[tuple[bytes, bytes]]:
    """`x-adaptive-cost-usd`, `x-adaptive-overhead-ms` and `Server-Timing` (gateway, upstream).

    A finished answer: its cost and the time so far, all known. A stream: the headers leave
    before the answer, so they tell the time until its first event and carry no cost (the access
    log and the metrics have the whole stream's)."""
    exchange: Exchange | None = getattr(request, "exchange", None)
    if exchange is None:
        return []
    total_ms = exchange.elapsed_ms()
    record = exchange.record
    upstream_ms = record.upstream_ms if record is not None else outcome.upstream_s * 1000
    overhead_ms = max(0.0, total_ms - upstream_ms)
    headers = [(b"x-adaptive-overhead-ms", f"{overhead_ms:.2f}".encode()),
               (b"server-timing", f"gateway;dur={overhead_ms:.2f};desc=\"gateway overhead\", "
                                  f"upstream;dur={upstream_ms:.2f}".encode())]
    if record is not None and record.cost_usd is not None and isinstance(outcome, ChatOutcome):
        headers.append((b"x-adaptive-cost-usd", format_usd(record.cost_usd).encode()))
    return headers


def format_usd(amount: Decimal) -> str:
    """A cost as plain decimal digits (no exponent), at most 10 places."""
    text = format(amount.quantize(Decimal("1e-10")).normalize(), "f")
    return text if text != "-0" else "0"


def sse_response(
    outcome: StreamOutcome,
    encode: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> Response:
    headers = [(b"x-accel-buffering", b"no"), *(extra_headers or [])]
    return stream_response(outcome, encode, on_error, b"text/event-stream", headers)


def stream_response(
    outcome: StreamOutcome,
    encode: Callable[[Any], bytes],
    on_error: Callable[[BaseException], bytes],
    content_type: bytes,
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> Response:
    """Stream `outcome.events` through `encode`. A failure after the first byte cannot change the
    status any more, so it ends the stream with the family's own error frame."""

    async def body() -> AsyncIterator[bytes]:
        events = outcome.events
        try:
            async for event in events:
                frame = encode(event)
                if frame:
                    yield frame
        except Exception as exc:  # mid-stream: report in-band, never hang or drop silently
            yield on_error(exc)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    headers = [(b"cache-control", b"no-cache"), *served_headers(outcome), *(extra_headers or [])]
    return Response(200, headers, StreamedContent(content_type, body))


def meter_outcome(meter: RequestMeter, outcome: ChatOutcome | StreamOutcome) -> None:
    """Report the outcome to the request's ledger; a stream's events are wrapped (once) so the
    ledger closes with the stream's own usage when it ends, fails or the client hangs up.
    An outcome answered from a response cache says so in `cache_tier`: recorded at no cost."""
    if outcome.cache_tier:
        meter.cache_tier = outcome.cache_tier
    if isinstance(outcome, StreamOutcome):
        if not meter.streaming:
            meter.streaming = True
            meter.served(outcome.target.provider, outcome.target.model, outcome.selection.source)
            outcome.events = metered_events(outcome.events, meter, _status_of)
        return
    meter.served(outcome.target.provider, outcome.target.model, outcome.selection.source,
                 outcome.response.usage)


def _status_of(exc: BaseException) -> tuple[int, str]:
    kind, message, _, _ = describe(exc)
    return STATUS[kind], message
