"""The access log adapter: one line per record, text or JSON, through the redaction filter."""

from __future__ import annotations

import logging
from decimal import Decimal

import orjson
import pytest

from adapters.redaction import install_log_redaction
from adapters.telemetry.logs import ACCESS_LOGGER, AccessLog, JsonFormatter
from domain.telemetry import RequestRecord

RECORD = RequestRecord(request_id="r1", family="openai", route="/v1/chat/completions", status=200, method="POST",
                       key_id=7, organization_id="acme", selection_source="router", provider="p", model="m",
                       attempts=("q:x", "p:m"), fallbacks=1, total_ms=12.5, upstream_ms=10.0, input_tokens=3,
                       output_tokens=2, cost_usd=Decimal("0.0005"), cache_tier="miss")


def test_text_line_names_every_field(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, ACCESS_LOGGER):
        AccessLog("text").observe(RECORD)
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("request_id=r1 method=POST route=/v1/chat/completions family=openai status=200")
    for part in ("key_id=7", "org=acme", "selection=router", "attempts=q:x,p:m", "fallbacks=1", "total_ms=12.5",
                 "upstream_ms=10.0", "overhead_ms=2.5", "tokens_in=3", "tokens_out=2", "cost_usd=0.0005",
                 "cache=miss"):
        assert part in line.split(" ")


def test_json_line_is_one_object(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, ACCESS_LOGGER):
        AccessLog("json").observe(RECORD)
    [record] = caplog.records
    line = orjson.loads(JsonFormatter().format(record))
    assert (line["logger"], line["status"], line["overhead_ms"], line["cost_usd"]) == (ACCESS_LOGGER, 200, 2.5,
                                                                                       0.0005)


def test_a_secret_in_a_path_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    install_log_redaction(["Sekr3t-Provider-Key-99"])
    leaky = RequestRecord(request_id="r2", family="gemini", route="/v1beta/models/Sekr3t-Provider-Key-99",
                          status=404, chat=False)
    with caplog.at_level(logging.INFO, ACCESS_LOGGER):
        AccessLog("text").observe(leaky)
    [line] = [r.getMessage() for r in caplog.records]
    assert "Sekr3t" not in line and "[redacted]" in line
