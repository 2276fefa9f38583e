"""Routing through real gateways and the official OpenAI SDK: the external router (signed calls,
its own breaker, fallback to the built-in router), the routing-decision cache (exact, semantic,
shared through Redis between two gateways), and the server-only `model_router.external`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import openai
import pytest

from tests.e2e.conftest import three_provider_config
from tests.e2e.fake_router import FakeRouter, running_fake_router

pytestmark = pytest.mark.e2e

SECRET = "e2e-router-secret-0123456789abcdef"
THRESHOLD = 3
NO_FALLBACK = {"mode": "off", "max_retries": 0}


@pytest.fixture(scope="module")
def router_service() -> Iterator[FakeRouter]:
    with running_fake_router() as service:
        yield service


@pytest.fixture
def router(router_service: FakeRouter) -> FakeRouter:
    router_service.reset()
    return router_service


def external_config(upstream: str, router_url: str, threshold: int, timeout_ms: int = 2000) -> dict[str, Any]:
    return three_provider_config(
        upstream,
        model_router={"external": {"url": router_url, "jwt_secret": SECRET, "timeout_ms": timeout_ms}},
        fallback={**NO_FALLBACK, "breaker": {"failure_threshold": threshold, "open_timeout_ms": 60_000}})


@pytest.fixture(scope="module")
def cached_gateway(start_gateway: Any, fake_upstream: str) -> str:
    """The built-in router with the routing cache, exact and semantic (embeddings at the fake)."""
    return start_gateway(three_provider_config(
        fake_upstream, fallback=NO_FALLBACK, embeddings={"provider": "fake_openai", "model": "fake-embedding"},
        model_router={"cache": {"semantic": True, "semantic_threshold": 0.9}}))


def client(url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key="client-key", max_retries=0, timeout=10)


def ask(oai: openai.OpenAI, prompt: str, **extra: Any) -> tuple[str, str, str]:
    """(selection source, provider:model that served, reply text)."""
    raw = oai.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": prompt}], max_tokens=20, **extra)
    text = raw.parse().choices[0].message.content or ""
    served = f"{raw.headers['x-adaptive-provider']}:{raw.headers['x-adaptive-model']}"
    return raw.headers["x-adaptive-selection"], served, text


def unique(text: str) -> str:
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def test_external_router_chooses_the_model_that_serves(start_gateway, fake, router) -> None:
    oai = client(start_gateway(external_config(fake.url, router.url, 1000)))
    for chosen in ("fake_gemini:gemini-2.5-flash", "fake_anthropic:claude-sonnet-4-5"):
        router.answer({"model": chosen, "difficulty": 0.4})
        prompt = unique("Which model answers this one?")
        source, served, text = ask(oai, prompt)
        assert (source, served, text) == ("external", chosen, f"Fake reply to: {prompt}")
    assert len(router.requests) == 2
    for seen in router.requests:
        claims = jwt.decode(seen.bearer, SECRET, algorithms=["HS256"], audience="model-router",
                            issuer="adaptive-proxy")
        assert claims["exp"] > claims["iat"]
        assert {(m["provider"], m["model"]) for m in seen.body["models"]} == {
            ("fake_openai", "gpt-4o-mini"), ("fake_anthropic", "claude-sonnet-4-5"),
            ("fake_gemini", "gemini-2.5-flash")}
        assert seen.body["needs_tools"] is False and seen.body["turns"] == 1
    assert router.requests[1].body["prompt"].startswith("Which model answers this one?")
    # the external decision is cached: the same prompt again is not sent to the service
    router.answer({"model": "fake_openai:gpt-4o-mini"})
    assert ask(oai, prompt)[:2] == ("cache_exact", "fake_anthropic:claude-sonnet-4-5")
    assert len(router.requests) == 2


def test_failing_external_router_falls_back_and_its_breaker_opens(start_gateway, fake, router) -> None:
    url = start_gateway(external_config(fake.url, router.url, THRESHOLD, timeout_ms=300))
    oai = client(url)
    prompt = unique("The external router is failing")
    failures = [({"error": "down"}, 500, 0.0), (b"{not json", 200, 0.0),
                ({"model": "fake_openai:gpt-4o-mini"}, 200, 1.0)]
    assert len(failures) == THRESHOLD
    for i in range(THRESHOLD + 3):
        if i < THRESHOLD:
            body, status, delay_s = failures[i]  # HTTP 500, invalid JSON, slower than timeout_ms
            router.answer(body, status=status, delay_s=delay_s)
        source, _, text = ask(oai, prompt)  # the same prompt: a fallback decision is never cached
        assert (source, text) == ("router", f"Fake reply to: {prompt}")
        assert len(router.requests) == min(i + 1, THRESHOLD)  # open after THRESHOLD failures: no more calls
    health = httpx.get(f"{url}/health", timeout=5).json()
    assert health["breakers"]["states"]["router:external"]["state"] == "open"
    assert health["routing"]["external_breaker"] == "open"
    assert health["routing"]["router"] == f"external:{router.url}"
    router.answer({"model": "fake_openai:gpt-4o-mini"})  # healthy again, but the breaker stays open
    assert ask(oai, unique("Still skipped"))[0] == "router"
    assert len(router.requests) == THRESHOLD


def test_routing_cache_exact_hit_for_the_same_prompt(cached_gateway, fake) -> None:
    oai = client(cached_gateway)
    prompt = unique("Explain the difference between TCP and UDP in two sentences.")
    first = ask(oai, prompt)
    assert first[0] == "router"
    assert ask(oai, prompt) == ("cache_exact", first[1], first[2])
    assert ask(oai, unique("Name three prime numbers greater than one hundred."))[0] == "router"
    # per request: the cache can be turned off
    assert ask(oai, prompt, extra_body={"model_router": {"cache": {"enabled": False}}})[:2] == ("router", first[1])
    assert ask(oai, prompt)[0] == "cache_exact"  # still there for everyone else
    # the empty model routes too
    raw = oai.chat.completions.with_raw_response.create(model="", messages=[{"role": "user", "content": prompt}])
    assert raw.headers["x-adaptive-selection"] == "cache_exact"


def test_select_model_reports_source_and_cache_tier(cached_gateway) -> None:
    body = {"prompt": unique("Translate 'good morning' into Italian"),
            "models": [{"provider": "x", "model": "small", "input_per_mtok": 0.1, "output_per_mtok": 0.2},
                       {"provider": "y", "model": "large", "input_per_mtok": 5.0, "output_per_mtok": 15.0}]}
    first = httpx.post(f"{cached_gateway}/v1/select-model", json=body, timeout=5)
    second = httpx.post(f"{cached_gateway}/v1/select-model", json=body, timeout=5)
    assert first.status_code == second.status_code == 200, first.text
    assert (first.json()["source"], second.json()["source"]) == ("router", "cache_exact")
    assert second.json()["cache_tier"] == "exact"
    assert second.headers["x-adaptive-selection"] == "cache_exact"


def test_routing_cache_semantic_hit_for_a_near_identical_prompt(cached_gateway, fake) -> None:
    oai = client(cached_gateway)
    tag = uuid.uuid4().hex[:8]
    prompt = f"Describe how photosynthesis turns sunlight into chemical energy in green plants {tag}"
    first = ask(oai, prompt)
    assert first[0] == "router"
    assert ask(oai, prompt.upper())[:2] == ("cache_semantic", first[1])
    assert ask(oai, prompt + "?!")[:2] == ("cache_semantic", first[1])
    assert ask(oai, f"Write a limerick about a cat who learns to play chess {tag}")[0] == "router"
    assert fake.stats()["by_path"].get("/v1/embeddings", 0) >= 4


def test_two_gateways_share_routing_decisions_through_redis(start_gateway, fake, redis_url,
                                                            tmp_path_factory) -> None:
    url, prefix = redis_url
    tmp_path_factory.getbasetemp()  # created once, before two threads make their work dirs in it

    def gateway(port: int) -> str:
        # distinct server.port values make two processes (--port overrides it)
        return start_gateway(three_provider_config(fake.url, fallback=NO_FALLBACK,
                                                   redis={"url": url, "key_prefix": prefix},
                                                   server={"log_level": "warning", "port": port}))

    with ThreadPoolExecutor(2) as pool:  # start both processes at once
        first, second = pool.map(gateway, (1, 2))
    assert first != second
    prompt = unique("Shared between two gateways: what is a monad?")
    decided = ask(client(first), prompt)
    assert decided[0] == "router"
    assert ask(client(second), prompt) == ("cache_exact", decided[1], decided[2])
    assert ask(client(second), unique("A question only gateway B saw"))[0] == "router"


def test_a_request_may_not_set_the_external_router(cached_gateway) -> None:
    oai = client(cached_gateway)
    override = {"external": {"url": "http://attacker.example/route", "jwt_secret": "x"}}
    with pytest.raises(openai.BadRequestError) as caught:
        ask(oai, "hello", extra_body={"model_router": override})
    assert caught.value.status_code == 400
    assert "model_router.external" in str(caught.value.message)
    with pytest.raises(openai.BadRequestError, match=r"model_router\.external"):
        ask(oai, "hello", extra_body={"model_router": {"external": {"timeout_ms": 1}}})
