"""Telemetry through real `adaptive-proxy serve` processes: JSON access lines, /metrics after SDK
requests (one worker and `--workers 2`), the cost/overhead/Server-Timing headers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import three_provider_config
from tests.e2e.gateway_process import gateway_process

pytestmark = pytest.mark.e2e
METRICS_TOKEN = "metrics-T0ken-9xQw2"


@contextlib.contextmanager
def serving(config: dict[str, Any], workdir: Path, *extra: str) -> Iterator[tuple[str, Path]]:
    with gateway_process(config, workdir, *extra) as gateway:
        yield gateway.url, gateway.log_path


def scrape(url: str, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = httpx.get(f"{url}/metrics", headers={"authorization": f"Bearer {token}"}, timeout=10)
    response.raise_for_status()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(response.text) for s in family.samples}


def total(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, labels[k]) in ls for k in labels))


def telemetry_config(upstream: str) -> dict[str, Any]:
    config = three_provider_config(upstream, telemetry={"metrics": {"bearer_token": METRICS_TOKEN}})
    config["server"] = {"log_level": "warning", "log_format": "json", "access_log": True}
    return config


def test_access_lines_metrics_and_headers_after_sdk_requests(fake_upstream: str,
                                                              tmp_path_factory: pytest.TempPathFactory) -> None:
    with serving(telemetry_config(fake_upstream), tmp_path_factory.mktemp("telemetry")) as (url, log_path):
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401  # the bearer token is required
        before = scrape(url)
        oai = openai.OpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0)
        raw = oai.chat.completions.with_raw_response.create(
            model="fake_openai:gpt-4o-mini", messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-request-id": "tele-1"})
        assert float(raw.headers["x-adaptive-cost-usd"]) > 0
        assert float(raw.headers["x-adaptive-overhead-ms"]) >= 0
        assert raw.headers["server-timing"].startswith("gateway;dur=")
        stream = oai.chat.completions.create(model="fake_openai:gpt-4o-mini", stream=True,
                                             messages=[{"role": "user", "content": "one two"}],
                                             stream_options={"include_usage": True})
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
        claude = anthropic.Anthropic(base_url=url, api_key="client-key", max_retries=0)
        claude.messages.create(model="fake_anthropic:claude-sonnet-4-5", max_tokens=20,
                               messages=[{"role": "user", "content": "hi"}])
        with pytest.raises(openai.BadRequestError):
            oai.chat.completions.create(model="fake_openai:gpt-4o-mini", messages="not a list")  # type: ignore[arg-type]
        oai.models.list()
        after = scrape(url)
        text = log_path.read_text()
        lines = [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]
    assert METRICS_TOKEN not in text and "test-key" not in text
    requests = total(after, "adaptive_proxy_requests_total") - total(before, "adaptive_proxy_requests_total")
    assert requests >= 5  # chat, stream, messages, the refused body, /v1/models (+ the first scrape)
    assert total(after, "adaptive_proxy_requests_total", provider="fake_openai", status_class="2xx") - total(
        before, "adaptive_proxy_requests_total", provider="fake_openai", status_class="2xx") == 2
    assert total(after, "adaptive_proxy_requests_total", status_class="4xx") >= 1
    assert total(after, "adaptive_proxy_tokens_total", provider="fake_anthropic", type="output") > 0
    assert total(after, "adaptive_proxy_cost_usd_total", provider="fake_openai") > 0
    assert total(after, "adaptive_proxy_time_to_first_token_seconds_count") >= 1
    assert total(after, "adaptive_proxy_gateway_overhead_seconds_count", family="openai") >= 2
    access = [line for line in lines if line.get("logger") == "adaptive_proxy.access"]
    by_id = {line["request_id"]: line for line in access}
    first = by_id["tele-1"]
    assert (first["route"], first["status"], first["provider"], first["model"]) == (
        "/v1/chat/completions", 200, "fake_openai", "gpt-4o-mini")
    assert first["tokens_in"] > 0 and first["cost_usd"] > 0 and first["total_ms"] >= first["upstream_ms"]
    assert any(line.get("stream") and "ttft_ms" in line for line in access)
    assert any(line["status"] == 400 and line.get("error") == "invalid_request" for line in access)
    assert any(line["route"] == "/v1/models" and line["status"] == 200 for line in access)
    assert not any("HTTP Request:" in line.get("message", "") for line in lines)  # httpx2's line is silenced


def test_two_workers_metrics_add_up(fake_upstream: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    config = telemetry_config(fake_upstream)
    with serving(config, tmp_path_factory.mktemp("workers"), "--workers", "2") as (url, _):
        n = 24
        with httpx.Client(base_url=url, timeout=20) as client:  # a fresh connection each: both workers serve
            for i in range(n):
                client.post("/v1/chat/completions", headers={"connection": "close"},
                            json={"model": "fake_openai:gpt-4o-mini", "messages": [{"role": "user",
                                                                                    "content": f"n{i}"}]})
        counts = [total(scrape(url), "adaptive_proxy_requests_total", provider="fake_openai") for _ in range(4)]
    assert counts == [n] * 4  # whichever worker answers the scrape, it reports both workers' requests
