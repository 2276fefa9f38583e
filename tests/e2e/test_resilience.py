"""Breakers and fallback through real gateways: a failing upstream beside a healthy one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.e2e.conftest import FakeUpstream, running_fake_upstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def bad_upstream() -> Iterator[FakeUpstream]:
    """A second fake upstream whose faults are set per test (the healthy one is `fake`)."""
    with running_fake_upstream() as upstream:
        yield upstream


def set_default_fault(upstream: FakeUpstream, fault: dict[str, Any] | None) -> None:
    httpx.post(f"{upstream.url}/_fake/default", json={"fault": fault}, timeout=5).raise_for_status()


def config(bad: str, good: str, **overrides: Any) -> dict[str, Any]:
    model = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}
    base: dict[str, Any] = {
        "server": {"log_level": "warning", "default_model": "bad:m"},
        "providers": {
            "bad": {"kind": "openai", "base_url": f"{bad}/v1", "api_key": "k", "timeout_ms": 400,
                    "models": {"m": model}},
            "good": {"kind": "openai", "base_url": f"{good}/v1", "api_key": "k", "timeout_ms": 5000,
                     "models": {"m": model}},
        },
        # routing off: the default model (bad) is chosen first, alternatives follow
        "model_router": {"enabled": False},
        "fallback": {"mode": "sequential", "max_retries": 1, "backoff_ms": 10, "timeout_ms": 5000,
                     "breaker": {"failure_threshold": 3, "open_timeout_ms": 60000}},
    }
    for key, value in overrides.items():
        base[key] = {**base.get(key, {}), **value}
    return base


def _user(text: str = "hello") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def bad(bad_upstream: FakeUpstream) -> Iterator[FakeUpstream]:
    bad_upstream.reset()
    yield bad_upstream
    set_default_fault(bad_upstream, None)


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 429, "retry_after": 0}, {"drop": True},
                                   {"latency_ms": 2000}])
def test_every_request_succeeds_while_one_provider_is_healthy(start_gateway, fake, bad, fault) -> None:
    url = start_gateway(config(bad.url, fake.url, fallback={"breaker": {"failure_threshold": 1000}}))
    set_default_fault(bad, fault)
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    started = time.monotonic()
    for i in range(4):
        raw = client.chat.completions.with_raw_response.create(model="", messages=_user(f"q{i}"))
        assert raw.headers["x-adaptive-provider"] == "good"
        assert raw.parse().choices[0].message.content == f"Fake reply to: q{i}"
    assert time.monotonic() - started < 4 * 1.5  # each request bounded by bad's timeout + one retry
    assert bad.stats()["requests"] == 8  # tried, retried once, then fell back — every time


def test_breaker_opens_and_skips_the_failing_provider(start_gateway, fake, bad) -> None:
    url = start_gateway(config(bad.url, fake.url))
    set_default_fault(bad, {"status": 503})
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="", messages=_user())
    tried = bad.stats()["requests"]
    assert tried == 3  # two tries on the first request, the third failure opened the breaker
    for _ in range(5):
        raw = client.chat.completions.with_raw_response.create(model="", messages=_user())
        assert raw.headers["x-adaptive-provider"] == "good"
    assert bad.stats()["requests"] == tried  # open breaker: skipped without a call
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["breakers"]["states"]["bad"]["state"] == "open"


def test_stream_falls_back_before_the_first_byte(start_gateway, fake, bad) -> None:
    url = start_gateway(config(bad.url, fake.url, fallback={"breaker": {"failure_threshold": 1000}}))
    set_default_fault(bad, {"status": 500})
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    stream = client.chat.completions.create(model="", messages=_user("a b"), stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "Fake reply to: a b"


def test_race_returns_the_fast_provider(start_gateway, fake, bad) -> None:
    url = start_gateway(config(bad.url, fake.url, fallback={"mode": "race", "race_width": 2}))
    set_default_fault(bad, {"latency_ms": 1500})
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    started = time.monotonic()
    raw = client.chat.completions.with_raw_response.create(model="", messages=_user())
    assert raw.headers["x-adaptive-provider"] == "good"
    assert time.monotonic() - started < 1.0


def test_manual_override_falls_back_only_when_asked(start_gateway, fake, bad) -> None:
    url = start_gateway(config(bad.url, fake.url, fallback={"breaker": {"failure_threshold": 1000}}))
    set_default_fault(bad, {"status": 500})
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="bad:m", messages=_user())
    reply = client.chat.completions.with_raw_response.create(
        model="bad:m", messages=_user(), extra_body={"fallback": {"mode": "sequential"}})
    assert reply.headers["x-adaptive-provider"] == "good"


def test_total_time_stays_within_the_configured_bound(start_gateway, fake, bad) -> None:
    url = start_gateway(config(bad.url, fake.url,
                               fallback={"timeout_ms": 700, "breaker": {"failure_threshold": 1000}}))
    set_default_fault(bad, {"latency_ms": 3000})
    httpx.post(f"{fake.url}/_fake/default", json={"fault": {"latency_ms": 3000}}, timeout=5)
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0, timeout=10)
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="", messages=_user())
        elapsed = time.monotonic() - started
        assert caught.value.status_code == 504
        assert elapsed < 0.7 + 0.5
    finally:
        httpx.post(f"{fake.url}/_fake/default", json={"fault": None}, timeout=5)


def test_two_gateways_share_breaker_state_through_redis(start_gateway, fake, bad, redis_server_url) -> None:
    prefix = f"e2e-{time.monotonic_ns()}:"
    shared = {"redis": {"url": redis_server_url, "key_prefix": prefix}}
    # Two distinct configs make `start_gateway` start two processes (--port overrides server.port).
    first = start_gateway(config(bad.url, fake.url, **shared, server={"log_level": "warning", "default_model": "bad:m",
                                                                     "port": 1}))
    second = start_gateway(config(bad.url, fake.url, **shared, server={"log_level": "warning",
                                                                      "default_model": "bad:m", "port": 2}))
    assert first != second
    set_default_fault(bad, {"status": 500})
    one = openai.OpenAI(base_url=f"{first}/v1", api_key="x", max_retries=0)
    for _ in range(2):
        one.chat.completions.create(model="", messages=_user())
    seen = bad.stats()["requests"]
    assert seen == 3  # failures seen by the first gateway opened the shared breaker
    two = openai.OpenAI(base_url=f"{second}/v1", api_key="x", max_retries=0)
    raw = two.chat.completions.with_raw_response.create(model="", messages=_user())
    assert raw.headers["x-adaptive-provider"] == "good"
    assert bad.stats()["requests"] == seen  # the second gateway never called the failing provider
    health = httpx.get(f"{second}/health", timeout=5).json()
    assert health["breakers"]["store"] == "redis"
