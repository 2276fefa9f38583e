"""`POST /v1/embeddings` through a real metered gateway, driven by the official openai SDK's
`client.embeddings.create`, against an OpenAI-kind and a Gemini provider (the fake upstream
behind): vectors, dimensions, base64, token arrays, usage rows and credits, and the refusals.
The same metered gateway checks the Responses passthrough's usage rows (usage from the
upstream's `response.completed`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import openai
import pytest

from devtools.fake_upstream.embeddings import embed
from tests.e2e.conftest import FakeUpstream, three_provider_config

pytestmark = pytest.mark.e2e
ADMIN = {"authorization": "Bearer e2e-embeddings-admin"}
EMBEDDING = {"kind": "embedding", "input_per_mtok": 1000.0}  # 1000 USD per Mtok: visible in credits
OPENAI_MODEL, GEMINI_MODEL = "fake_openai:text-embedding-3-small", "fake_gemini:gemini-embedding-001"


@pytest.fixture(scope="module")
def gateway(start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str,
            tmp_path_factory: pytest.TempPathFactory) -> str:
    config = three_provider_config(
        fake_upstream, auth={"api_keys": True, "admin_token": ADMIN["authorization"][7:]},
        credits={"enabled": True}, usage={"flush_interval_ms": 20},
        database={"url": f"sqlite:///{tmp_path_factory.mktemp('embeddings') / 'gateway.db'}"})
    config["providers"]["fake_openai"]["models"]["text-embedding-3-small"] = EMBEDDING
    config["providers"]["fake_gemini"]["models"]["gemini-embedding-001"] = EMBEDDING
    config["providers"]["fake_anthropic"]["models"]["claude-embed"] = EMBEDDING
    config["providers"]["fake_responses"] = {**config["providers"]["fake_openai"], "responses_api": True}
    return start_gateway(config)


@pytest.fixture(scope="module")
def key(gateway: str) -> tuple[str, int]:
    created = httpx.post(f"{gateway}/admin/api-keys", headers=ADMIN, timeout=10,
                         json={"name": "emb", "organization_id": "emb-org"}).json()
    httpx.post(f"{gateway}/admin/credits/adjust", headers=ADMIN, timeout=10,
               json={"organization_id": "emb-org", "amount": "100"}).raise_for_status()
    return created["key"], created["id"]


@pytest.fixture
def sdk(gateway: str, key: tuple[str, int]) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key=key[0], max_retries=0, timeout=20)


def _close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-5 for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("model", [OPENAI_MODEL, GEMINI_MODEL])
def test_vectors_dimensions_and_base64(sdk: openai.OpenAI, fake: FakeUpstream, model: str) -> None:
    raw = sdk.embeddings.with_raw_response.create(model=model, input=["hello world", "second text"], dimensions=16)
    reply = raw.parse()
    assert [d.index for d in reply.data] == [0, 1]
    assert _close(reply.data[0].embedding, embed("hello world", 16))
    assert _close(reply.data[1].embedding, embed("second text", 16))
    assert reply.usage.prompt_tokens > 0 and reply.model == model.split(":")[1]
    assert raw.headers["x-adaptive-provider"] == model.split(":")[0]
    path = fake.last_request["path"]
    assert path.endswith(":batchEmbedContents") if model == GEMINI_MODEL else path == "/v1/embeddings"
    # the SDK asks for base64 by default when none is given, and decodes it itself
    one = sdk.embeddings.create(model=model, input="hello world")
    assert _close(one.data[0].embedding, embed("hello world"))
    as_text = sdk.embeddings.create(model=model, input="hello world", encoding_format="base64")
    assert isinstance(as_text.data[0].embedding, str)


def test_token_arrays_go_to_openai_kind_only(sdk: openai.OpenAI) -> None:
    reply = sdk.embeddings.create(model=OPENAI_MODEL, input=[[1, 2, 3], [4, 5]], encoding_format="float")
    assert len(reply.data) == 2
    with pytest.raises(openai.BadRequestError) as err:
        sdk.embeddings.create(model=GEMINI_MODEL, input=[1, 2, 3])
    assert err.value.body["param"] == "input"


def test_refusals_in_openai_shape(sdk: openai.OpenAI, gateway: str) -> None:
    stranger = openai.OpenAI(base_url=f"{gateway}/v1", api_key="apk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):  # admitted like chat: a key is required
        stranger.embeddings.create(model=OPENAI_MODEL, input="x")
    with pytest.raises(openai.BadRequestError) as err:
        sdk.embeddings.create(model="fake_anthropic:claude-embed", input="x")
    assert "no embeddings API" in err.value.message and err.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as err:  # a chat model is not an embedding model
        sdk.embeddings.create(model="fake_openai:gpt-4o-mini", input="x")
    assert "chat model" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:  # and an embedding model is not a chat model
        sdk.chat.completions.create(model=OPENAI_MODEL, messages=[{"role": "user", "content": "hi"}])
    assert "embedding model" in err.value.message
    with pytest.raises(openai.BadRequestError) as err:
        sdk.embeddings.create(model=OPENAI_MODEL, input=[])
    assert err.value.body["type"] == "invalid_request_error"


def test_bare_and_auto_models_pick_an_embedding_model(sdk: openai.OpenAI) -> None:
    raw = sdk.embeddings.with_raw_response.create(model="gemini-embedding-001", input="x")
    assert raw.headers["x-adaptive-provider"] == "fake_gemini"
    raw = sdk.embeddings.with_raw_response.create(model="auto", input="x")
    assert raw.headers["x-adaptive-model"] in ("text-embedding-3-small", "gemini-embedding-001")


def usage_row(gateway: str, key_id: int, request_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # rows are written in batches, every 20 ms here
        rows = httpx.get(f"{gateway}/admin/api-keys/{key_id}/usage", headers=ADMIN).json()
        items = rows["data"] if isinstance(rows, dict) else rows
        row = next((r for r in items if r.get("request_id") == request_id), None)
        if row is not None:
            return dict(row)
        time.sleep(0.05)
    raise AssertionError(f"no usage row for {request_id}")


def test_usage_rows_and_credits(gateway: str, sdk: openai.OpenAI, key: tuple[str, int]) -> None:
    before = Decimal(httpx.get(f"{gateway}/admin/credits/balance/emb-org", headers=ADMIN).json()["balance"])
    reply = sdk.embeddings.create(model=OPENAI_MODEL, input="four words of text", encoding_format="float",
                                  extra_headers={"x-request-id": "emb-usage-1"})
    tokens = reply.usage.prompt_tokens
    row = usage_row(gateway, key[1], "emb-usage-1")
    assert row["endpoint"] == "/v1/embeddings" and row["provider"] == "fake_openai"
    assert row["input_tokens"] == tokens and Decimal(row["cost"]) == Decimal(tokens) * Decimal("0.001")
    after = Decimal(httpx.get(f"{gateway}/admin/credits/balance/emb-org", headers=ADMIN).json()["balance"])
    assert before - after >= Decimal(row["cost"]) > 0


@pytest.mark.parametrize("stream", [False, True])
def test_responses_passthrough_usage_rows(gateway: str, sdk: openai.OpenAI, key: tuple[str, int],
                                          fake: FakeUpstream, stream: bool) -> None:
    request_id = f"resp-usage-{stream}"
    if stream:
        with sdk.responses.stream(model="fake_responses:gpt-4o-mini", input="meter me please",
                                  extra_headers={"x-request-id": request_id}) as events:
            for _ in events:
                pass
            usage = events.get_final_response().usage
    else:
        usage = sdk.responses.create(model="fake_responses:gpt-4o-mini", input="meter me please",
                                     extra_headers={"x-request-id": request_id}).usage
    assert fake.last_request["path"] == "/v1/responses" and usage is not None
    row = usage_row(gateway, key[1], request_id)
    assert row["endpoint"] == "/v1/responses" and row["provider"] == "fake_responses"
    assert (row["input_tokens"], row["output_tokens"]) == (usage.input_tokens, usage.output_tokens)
    assert row["streamed"] is stream and Decimal(row["cost"]) > 0
