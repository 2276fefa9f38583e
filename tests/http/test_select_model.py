"""POST /v1/select-model with a small known estimator in place of the shipped one."""

from __future__ import annotations

import httpx2
import pytest
from blacksheep.contents import JSONContent
from blacksheep.testing import TestClient
from dependency_injector import providers

from adapters.config import settings_from_dict
from container import build_container
from domain.difficulty import DifficultyEstimator
from entrypoints.http.app import create_app

# One family, one feature-free expert: every prompt has difficulty sigmoid(0) = 0.5, reference 0.5.
FLAT = DifficultyEstimator.from_params({"families": ["all"], "experts": [{"bias": 0.0, "weights": {}}],
                                        "reference": 0.5})
MODELS = [
    {"provider": "cheap", "model": "small", "input_per_mtok": 0.1, "output_per_mtok": 0.4, "quality": 0.5,
     "supports_tools": False},
    {"provider": "dear", "model": "large", "input_per_mtok": 5, "output_per_mtok": 15, "quality": 0.9},
]


@pytest.fixture
async def client():
    container = build_container(settings_from_dict({}))
    container.estimator.override(providers.Object(FLAT))
    container.http_client.override(providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(
        lambda r: httpx2.Response(500)))))
    app = create_app(container)
    await app.start()
    yield TestClient(app)
    await app.stop()


@pytest.mark.parametrize(("bias", "expected"), [(0, "small"), (1, "large")])
async def test_cost_bias_extremes(client, bias, expected) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": MODELS, "prompt": "What is 2+2?", "cost_bias": bias}))
    body = await response.json()
    assert response.status == 200
    assert body["model"] == expected
    assert [a["model"] for a in body["alternatives"]] == [m["model"] for m in MODELS if m["model"] != expected]
    assert body["difficulty"] == 0.5


async def test_tools_only_go_to_tool_models(client) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": MODELS, "prompt": "call a tool", "cost_bias": 0,
         "tools": [{"type": "function", "function": {"name": "f"}}]}))
    assert (await response.json())["model"] == "large"


@pytest.mark.parametrize(("body", "param"), [
    ({"models": [], "prompt": "x"}, "models"),
    ({"models": MODELS, "prompt": ""}, "prompt"),
    ({"models": MODELS, "prompt": "x", "cost_bias": 3}, "cost_bias"),
    ({"models": [{"provider": "p"}], "prompt": "x"}, "models[0]"),
    ({"models": [{"provider": "p", "model": "m", "quality": 7}], "prompt": "x"}, "models[0].quality"),
])
async def test_bad_queries_are_400(client, body, param) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(body))
    assert response.status == 400
    assert (await response.json())["error"]["param"] == param


async def test_no_capable_model_is_400(client) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": MODELS[:1], "prompt": "x", "tools": [{"type": "function", "function": {"name": "f"}}]}))
    assert response.status == 400
    assert "tool" in (await response.json())["error"]["message"]


async def test_the_answer_says_how_it_was_chosen_and_repeats_come_from_the_routing_cache(client) -> None:
    query = {"models": MODELS, "prompt": "Summarise the plot of Hamlet.", "cost_bias": 1}
    first = await client.post("/v1/select-model", content=JSONContent(query))
    second = await client.post("/v1/select-model", content=JSONContent(query))
    one, two = await first.json(), await second.json()
    assert (one["source"], one["cache_tier"], first.headers.get_first(b"x-adaptive-selection")) == (
        "router", "miss", b"router")
    assert (two["source"], two["cache_tier"], second.headers.get_first(b"x-adaptive-selection")) == (
        "cache_exact", "exact", b"cache_exact")
    assert (two["provider"], two["model"], two["alternatives"]) == (one["provider"], one["model"], one["alternatives"])
    cheaper = await client.post("/v1/select-model", content=JSONContent({**query, "cost_bias": 0}))
    assert (await cheaper.json())["source"] == "router"  # another cost_bias is another decision


# --- the original gateway's capability fields ---------------------------------------------------

ORIGINAL = [
    {"provider": "p", "model_name": "pricey", "cost_per_1m_input_tokens": 10, "cost_per_1m_output_tokens": 30,
     "max_context_tokens": 200_000, "supports_tool_calling": True},
    {"provider": "p", "model_name": "cheap", "cost_per_1m_input_tokens": 0.1, "cost_per_1m_output_tokens": 0.3,
     "max_context_tokens": 100, "max_output_tokens": 256, "supports_tool_calling": False},
]


async def test_original_fields_cheap_model_is_preferred_at_low_cost_bias(client) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": ORIGINAL, "prompt": "What is 2+2?", "cost_bias": 0}))
    assert response.status == 200, await response.text()
    assert (await response.json())["model"] == "cheap"


async def test_original_fields_long_prompt_skips_the_small_context_model(client) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": ORIGINAL, "prompt": "word " * 4000, "cost_bias": 0}))
    body = await response.json()
    assert body["model"] == "pricey"
    assert body["alternatives"] == []


async def test_original_fields_tools_skip_the_model_without_tool_calling(client) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": ORIGINAL, "prompt": "hi", "cost_bias": 0,
         "tools": [{"type": "function", "function": {"name": "f"}}]}))
    assert (await response.json())["model"] == "pricey"


async def test_max_tokens_beyond_a_models_output_limit_skips_it(client) -> None:
    response = await client.post("/v1/select-model", content=JSONContent(
        {"models": ORIGINAL, "prompt": "hi", "cost_bias": 0, "max_tokens": 1000}))
    assert (await response.json())["model"] == "pricey"


@pytest.mark.parametrize(("model", "param"), [
    ({"provider": "p", "model": "m", "supports_streaming": True}, "models[0].supports_streaming"),
    ({"provider": "p", "model": "m", "max_output_tokens": 0}, "models[0].max_output_tokens"),
    ({"provider": "p", "model": "m", "model_name": "other"}, "models[0].model_name"),
])
async def test_unknown_or_bad_capability_fields_are_400_naming_them(client, model, param) -> None:
    response = await client.post("/v1/select-model", content=JSONContent({"models": [model], "prompt": "x"}))
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["param"] == param
    assert param.rsplit(".", 1)[1] in error["message"]


@pytest.mark.parametrize(("model", "param", "message"), [
    ({"provider": "p", "model": "m", "quality": True}, "models[0].quality", "quality must be a non-negative number"),
    ({"provider": "p", "model": "m", "context_window": "8k"}, "models[0].context_window",
     "context_window must be a positive integer"),
    ({"provider": "p", "model": "m", "supports_vision": "yes"}, "models[0].supports_vision",
     "supports_vision must be true or false"),
    ({"provider": "p", "model": "m", "model_name": "n"}, "models[0].model_name",
     "model_name and model disagree; send one of them"),
    ("gpt-4o", "models[0]", "each model must be an object with provider and model"),
])
async def test_the_typed_request_keeps_the_hand_written_messages(client, model, param, message) -> None:
    response = await client.post("/v1/select-model", content=JSONContent({"models": [model], "prompt": "x"}))
    error = (await response.json())["error"]
    assert (response.status, error["type"], error["param"], error["message"]) == (
        400, "invalid_request_error", param, message)
