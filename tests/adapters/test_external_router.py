"""ExternalRouter against a real HTTP server: a scriptable fake routing service served by uvicorn
in a thread (tests/e2e/fake_router.py), reached through a real httpx2.AsyncClient. The signed
request, the two answer forms, alternatives and difficulty, and every failure as UpstreamError."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import jwt
import pytest

from adapters.routing.external import ExternalRouter
from domain.catalog import ModelInfo
from domain.errors import NoCapableModel, UpstreamError
from domain.routing import RoutingInput
from tests.e2e.fake_router import FakeRouter, closed_port_url, running_fake_router

SECRET = "router-test-secret-0123456789abcdef"
CHEAP = ModelInfo("a", "cheap", input_per_mtok=0.1, output_per_mtok=0.2, supports_tools=True)
NO_TOOLS = ModelInfo("b", "mid", input_per_mtok=1.0, output_per_mtok=2.0, supports_tools=False,
                     supports_vision=True, context_window=32_000)
BIG = ModelInfo("c", "big", input_per_mtok=5.0, output_per_mtok=10.0, supports_tools=True, quality=0.9)
MODELS = [CHEAP, NO_TOOLS, BIG]
PLAIN = RoutingInput(prompt="Summarize the plot of Hamlet.", turns=2)
TOOLS = RoutingInput(prompt="What is the weather in Paris?", needs_tools=True, agentic=True, has_tools=True)


@pytest.fixture(scope="module")
def service() -> Iterator[FakeRouter]:
    with running_fake_router() as fake:
        yield fake


@pytest.fixture
def fake(service: FakeRouter) -> FakeRouter:
    service.reset()
    return service


@pytest.fixture
async def http() -> AsyncIterator[httpx2.AsyncClient]:
    client = httpx2.AsyncClient()
    yield client
    await client.aclose()


def external(url: str, http: httpx2.AsyncClient, timeout_s: float = 2.0) -> ExternalRouter:
    return ExternalRouter(url, SECRET, timeout_s, http)


def keys(models: Any) -> list[str]:
    return [m.key for m in models]


async def test_request_is_signed_and_carries_the_inputs_and_only_capable_candidates(fake, http) -> None:
    fake.answer({"provider": "c", "model": "big"})
    before = int(time.time())
    decision = await external(fake.url, http).route(MODELS, TOOLS, 0.25)
    assert decision.model is BIG
    [seen] = fake.requests
    assert seen.path == "/route" and seen.headers["content-type"] == "application/json"
    claims = jwt.decode(seen.bearer, SECRET, algorithms=["HS256"], audience="model-router", issuer="adaptive-proxy")
    assert jwt.get_unverified_header(seen.bearer)["alg"] == "HS256"
    assert claims["iss"] == "adaptive-proxy" and claims["aud"] == "model-router"
    assert claims["exp"] > claims["iat"] >= before - 1 and claims["jti"]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(seen.bearer, "another-secret-0123456789abcdef0", algorithms=["HS256"], audience="model-router")
    body = seen.body
    assert (body["prompt"], body["turns"], body["cost_bias"], body["needs_tools"], body["needs_vision"]) == (
        TOOLS.prompt, 1, 0.25, True, False)
    assert (body["agentic"], body["has_tools"]) == (TOOLS.agentic, TOOLS.has_tools)
    assert [(m["provider"], m["model"]) for m in body["models"]] == [("a", "cheap"), ("c", "big")]  # not b:mid
    assert body["models"][1] == {"provider": "c", "model": "big", "input_per_mtok": 5.0, "output_per_mtok": 10.0,
                                 "quality": 0.9, "context_window": 128_000, "supports_tools": True,
                                 "supports_vision": False}


async def test_every_request_gets_a_fresh_token(fake, http) -> None:
    fake.answer({"model": "a:cheap"})
    router = external(fake.url, http)
    await router.route(MODELS, PLAIN, 0.5)
    await router.route(MODELS, PLAIN, 0.5)
    first, second = (jwt.decode(r.bearer, SECRET, algorithms=["HS256"], audience="model-router")
                     for r in fake.requests)
    assert first["jti"] != second["jti"]
    assert fake.requests[0].body["turns"] == 2 and len(fake.requests[0].body["models"]) == 3


@pytest.mark.parametrize("answer", [{"provider": "b", "model": "mid"}, {"model": "b:mid"}])
async def test_both_answer_forms_choose_the_model(fake, http, answer: dict[str, Any]) -> None:
    fake.answer(answer)
    decision = await external(fake.url, http).route(MODELS, PLAIN, 0.5)
    assert decision.model is NO_TOOLS
    assert set(keys(decision.alternatives)) == {"a:cheap", "c:big"}
    assert decision.difficulty is None


async def test_alternatives_order_is_honoured_and_the_rest_follow(fake, http) -> None:
    router = external(fake.url, http)
    fake.answer({"model": "a:cheap"})
    assert keys((await router.route(MODELS, PLAIN, 0.5)).alternatives) == ["b:mid", "c:big"]  # own order
    fake.answer({"model": "a:cheap", "alternatives": ["c:big", "b:mid"]})
    assert keys((await router.route(MODELS, PLAIN, 0.5)).alternatives) == ["c:big", "b:mid"]
    # dict and string forms; unknown, malformed and chosen entries are ignored; unnamed ones follow
    fake.answer({"provider": "a", "model": "cheap",
                 "alternatives": [{"provider": "c", "model": "big"}, "zz:nope", 7, "a:cheap"]})
    decision = await router.route(MODELS, PLAIN, 0.5)
    assert decision.model is CHEAP and keys(decision.alternatives) == ["c:big", "b:mid"]
    # a tools request: the non-capable model never appears, even when the service names it
    fake.answer({"model": "c:big", "alternatives": ["b:mid", "a:cheap"]})
    decision = await router.route(MODELS, TOOLS, 0.5)
    assert decision.model is BIG and keys(decision.alternatives) == ["a:cheap"]


@pytest.mark.parametrize(("difficulty", "expected"), [(0.7, 0.7), (0, 0.0), (1, 1.0), (1.5, None), (-0.1, None),
                                                      ("hard", None), (True, None), (None, None)])
async def test_difficulty_is_passed_through_when_valid(fake, http, difficulty: Any, expected: float | None) -> None:
    fake.answer({"model": "c:big", "difficulty": difficulty})
    decision = await external(fake.url, http).route(MODELS, PLAIN, 0.5)
    assert decision.model is BIG and decision.difficulty == expected


@pytest.mark.parametrize(("status", "body", "message"), [
    (500, {"error": "boom"}, "answered HTTP 500"),
    (404, {"model": "a:cheap"}, "answered HTTP 404"),
    (200, b"{not json", "invalid JSON"),
    (200, ["a:cheap"], "not an object"),
    (200, "a:cheap", "not an object"),
    (200, {"model": "zz:nope"}, "chose zz:nope, which is not one of the 3 candidates"),
    (200, {"model": "cheap"}, "chose no model"),  # no provider and no colon: not a model id
    (200, {}, "chose no model"),
])
async def test_a_bad_answer_is_an_upstream_error(fake, http, status: int, body: Any, message: str) -> None:
    fake.answer(body, status=status)
    with pytest.raises(UpstreamError, match=message) as caught:
        await external(fake.url, http).route(MODELS, PLAIN, 0.5)
    assert caught.value.provider == "external router"
    assert len(fake.requests) == 1


async def test_a_model_that_is_not_capable_is_an_upstream_error(fake, http) -> None:
    fake.answer({"provider": "b", "model": "mid"})  # b:mid exists but does not support tools
    with pytest.raises(UpstreamError, match="chose b:mid, which is not one of the 2 candidates"):
        await external(fake.url, http).route(MODELS, TOOLS, 0.5)


async def test_connection_refused_is_an_upstream_error(http) -> None:
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="the external router is unreachable") as caught:
        await external(closed_port_url(), http).route(MODELS, PLAIN, 0.5)
    assert caught.value.retryable
    assert time.monotonic() - started < 1.5


async def test_a_slow_answer_times_out_within_the_bound(fake, http) -> None:
    fake.answer({"model": "a:cheap"}, delay_s=3.0)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="did not answer within 300 ms") as caught:
        await external(fake.url, http, timeout_s=0.3).route(MODELS, PLAIN, 0.5)
    elapsed = time.monotonic() - started
    assert 0.25 <= elapsed < 0.3 + 0.3
    assert caught.value.retryable and len(fake.requests) == 1


async def test_no_capable_model_is_raised_locally_without_a_call(fake, http) -> None:
    fake.answer({"model": "b:mid"})
    router = external(fake.url, http)
    with pytest.raises(NoCapableModel, match="none of the 1 candidate models supports tools"):
        await router.route([NO_TOOLS], TOOLS, 0.5)
    with pytest.raises(NoCapableModel):
        await router.route([], PLAIN, 0.5)
    huge = RoutingInput(prompt="x" * 200_000)  # ~50k tokens: over b:mid's 32k window only
    with pytest.raises(NoCapableModel, match="does not fit the context window"):
        await router.route([NO_TOOLS], huge, 0.5)
    assert fake.requests == []
