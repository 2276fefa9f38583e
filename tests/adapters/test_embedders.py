"""One contract for every Embedder: the in-process hashing embedder and the OpenAI-compatible
adapter (against the fake upstream's deterministic /v1/embeddings, through httpx2.MockTransport)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx2
import orjson
import pytest

from adapters.memory.embedder import HashingEmbedder
from adapters.providers.embeddings import OpenAIEmbedder
from devtools.fake_upstream.embeddings import render
from domain.cache_key import dot, normalized
from domain.errors import UpstreamError


def fake_embeddings(request: httpx2.Request) -> httpx2.Response:
    assert request.url.path == "/v1/embeddings" and request.headers["authorization"] == "Bearer k"
    return httpx2.Response(200, content=render(orjson.loads(request.content)),
                           headers={"content-type": "application/json"})


@pytest.fixture(params=["memory", "openai"])
async def embedder(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield HashingEmbedder()
        return
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(fake_embeddings))
    yield OpenAIEmbedder("emb", base_url="http://fake.test/v1", api_key="k", model="fake-embedding",
                         http_client=client)
    await client.aclose()


async def test_one_vector_per_text_in_order(embedder: Any) -> None:
    texts = ["first text", "second, different text", "first text"]
    vectors = await embedder.embed(texts)
    assert len(vectors) == 3 and len({len(v) for v in vectors}) == 1
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]


async def test_near_duplicates_are_closer_than_unrelated_texts(embedder: Any) -> None:
    base, near, far = (normalized(v) for v in await embedder.embed(
        ["What is the capital city of France?", "what is the capital city of france", "Write a haiku about rain"]))
    assert dot(base, near) > 0.9 > dot(base, far)


async def test_an_upstream_error_is_a_typed_domain_error() -> None:
    client = httpx2.AsyncClient(transport=httpx2.MockTransport(
        lambda request: httpx2.Response(500, json={"error": {"message": "down"}})))
    embedder = OpenAIEmbedder("emb", base_url="http://fake.test/v1", api_key="k", model="m", http_client=client)
    with pytest.raises(UpstreamError, match="down"):
        await embedder.embed(["x"])
    await client.aclose()
