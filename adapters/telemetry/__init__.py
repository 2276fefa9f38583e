"""Telemetry adapters: the access log (logs), Prometheus (prometheus), OpenTelemetry (otel, the extra)."""

from __future__ import annotations

import os

from application.settings import Settings


def tracing_endpoint(settings: Settings) -> str:
    """Where traces go: `telemetry.otlp_endpoint`, else the standard OTEL_EXPORTER_OTLP_ENDPOINT; "" is off."""
    return settings.telemetry.otlp_endpoint or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
