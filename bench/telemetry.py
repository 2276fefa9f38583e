"""Per-request cost of the telemetry observers, in-process: one JSON access line (to /dev/null,
through the logging handler) and one Prometheus update, for a typical chat record.

Usage: .venv/bin/python bench/telemetry.py [--n 20000]
The whole-gateway comparison (telemetry on vs off, side by side) is `bench/run.py --telemetry`.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.redaction import install_log_redaction
from adapters.telemetry.logs import AccessLog, configure_logging
from adapters.telemetry.prometheus import PrometheusMetrics
from application.settings import ServerSettings
from domain.telemetry import RequestRecord

RECORD = RequestRecord(
    request_id="9f2c0e1d2b3a4c5d6e7f8091a2b3c4d5", family="openai", route="/v1/chat/completions", status=200,
    method="POST", selection_source="manual_override", provider="fake", model="fake-small",
    requested_model="fake:fake-small", attempts=("fake:fake-small",), total_ms=2.5, upstream_ms=1.2,
    input_tokens=10, output_tokens=8, cost_usd=Decimal("0.0000260"))


def per_call_us(fn: object, n: int) -> float:
    call = fn  # type: ignore[assignment]
    start = time.perf_counter()
    for _ in range(n):
        call()  # type: ignore[operator]
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20000)
    args = parser.parse_args()
    configure_logging(ServerSettings(log_level="warning", log_format="json"))
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open("/dev/null", "w"))
    install_log_redaction(["a-configured-secret-123"])
    access, metrics = AccessLog("json"), PrometheusMetrics()

    def metered() -> None:
        metrics.opened()
        metrics.observe(RECORD)

    for name, fn in (("JSON access line", lambda: access.observe(RECORD)), ("Prometheus update", metered)):
        per_call_us(fn, 1000)
        print(f"{name}: {min(per_call_us(fn, args.n) for _ in range(5)):.1f} µs per request (best of 5)")


if __name__ == "__main__":
    main()
