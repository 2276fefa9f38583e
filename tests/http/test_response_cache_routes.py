"""The response cache through the real app: headers, each family's body, usage records, scoping."""

from __future__ import annotations

from pathlib import Path

import orjson
from blacksheep.contents import JSONContent

from tests.http import metered as harness
from tests.http.metered import bearer, metered_config

metered_gateway = harness.metered  # the fixture, under a name that no parameter shadows

QUESTION = [{"role": "user", "content": "hi"}]


def openai_body(**extra: object) -> JSONContent:
    return JSONContent({"model": "up:m1", "max_tokens": 16, "temperature": 0, "messages": QUESTION, **extra})


async def test_a_hit_is_served_in_every_family_and_recorded_at_zero_cost(metered_gateway, tmp_path: Path) -> None:
    gw = await metered_gateway(metered_config(tmp_path, prompt_cache={"enabled": True}))
    key = (await gw.new_key(organization_id="acme"))["key"]
    first = await gw.client.post("/v1/chat/completions", content=openai_body(), headers=bearer(key))
    second = await gw.client.post("/v1/chat/completions", content=openai_body(), headers=bearer(key))
    assert gw.upstream.calls == 1
    assert first.headers.get_first(b"x-adaptive-cache") == b"miss"
    assert second.headers.get_first(b"x-adaptive-cache") == b"exact"
    assert second.headers.get_first(b"x-adaptive-selection") == b"cache_exact"
    miss_body, hit_body = await first.json(), await second.json()
    assert miss_body["usage"]["cache_tier"] == "miss" and miss_body["usage"]["prompt_tokens"] == 1000
    assert hit_body["usage"]["cache_tier"] == "exact" and hit_body["usage"]["total_tokens"] == 0
    assert hit_body["choices"][0]["message"]["content"] == "hello"

    # The same conversation asked through the Anthropic and Gemini APIs is the same entry.
    anthropic = await gw.client.post("/v1/messages", headers=bearer(key), content=JSONContent(
        {"model": "up:m1", "max_tokens": 16, "temperature": 0, "messages": QUESTION}))
    gemini = await gw.client.post("/v1beta/models/up:m1:generateContent", headers=bearer(key), content=JSONContent(
        {"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
         "generationConfig": {"maxOutputTokens": 16, "temperature": 0}}))
    assert gw.upstream.calls == 1
    a, g = await anthropic.json(), await gemini.json()
    assert a["content"] == [{"type": "text", "text": "hello"}] and a["usage"]["cache_tier"] == "exact"
    assert g["candidates"][0]["content"]["parts"][0]["text"] == "hello"
    assert g["usageMetadata"]["cacheTier"] == "exact" and g["usageMetadata"]["totalTokenCount"] == 0

    rows = await gw.usage()
    assert [r["cache_tier"] for r in rows] == ["miss", "exact", "exact", "exact"]
    assert rows[0]["cost"] > 0 and rows[0]["input_tokens"] == 1000
    assert all((r["cost"], r["input_tokens"], r["output_tokens"]) == (0, 0, 0) for r in rows[1:])
    assert [r["selection_source"] for r in rows] == ["manual_override", "cache_exact", "cache_exact", "cache_exact"]


async def test_a_streamed_answer_is_stored_and_replayed_as_a_stream(metered_gateway, tmp_path: Path) -> None:
    gw = await metered_gateway(metered_config(tmp_path, prompt_cache={"enabled": True}, auth={"api_keys": False}))
    body = openai_body(stream=True, stream_options={"include_usage": True})
    live = await gw.client.post("/v1/chat/completions", content=body)
    assert live.headers.get_first(b"x-adaptive-cache") == b"miss" and "[DONE]" in await live.text()
    replay = await gw.client.post("/v1/chat/completions", content=body)
    text = await replay.text()
    assert gw.upstream.calls == 1 and replay.headers.get_first(b"x-adaptive-cache") == b"exact"
    frames = [orjson.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: {")]
    assert "".join(f["choices"][0]["delta"].get("content") or "" for f in frames if f["choices"]) == "hello"
    assert frames[-1]["usage"]["cache_tier"] == "exact" and text.endswith("data: [DONE]\n\n")
    plain = await gw.client.post("/v1/chat/completions", content=openai_body())
    assert plain.headers.get_first(b"x-adaptive-cache") == b"exact" and gw.upstream.calls == 1
    rows = await gw.usage()
    assert [(r["streamed"], r["cache_tier"], r["cost"] > 0) for r in rows] == [
        (True, "miss", True), (True, "exact", False), (False, "exact", False)]


async def test_organizations_do_not_share_and_headers_control_the_cache(metered_gateway, tmp_path: Path) -> None:
    gw = await metered_gateway(metered_config(tmp_path, prompt_cache={"enabled": True}))
    acme = (await gw.new_key(organization_id="acme"))["key"]
    globex = (await gw.new_key(organization_id="globex"))["key"]
    await gw.client.post("/v1/chat/completions", content=openai_body(), headers=bearer(acme))
    other = await gw.client.post("/v1/chat/completions", content=openai_body(), headers=bearer(globex))
    assert other.headers.get_first(b"x-adaptive-cache") == b"miss" and gw.upstream.calls == 2
    refreshed = await gw.client.post("/v1/chat/completions", content=openai_body(),
                                     headers={**bearer(acme), "cache-control": "no-cache"})
    assert refreshed.headers.get_first(b"x-adaptive-cache") == b"miss" and gw.upstream.calls == 3


async def test_without_the_cache_the_response_is_unchanged(metered_gateway, tmp_path: Path) -> None:
    gw = await metered_gateway(metered_config(tmp_path, auth={"api_keys": False}))
    response = await gw.client.post("/v1/chat/completions", content=openai_body())
    assert response.headers.get_first(b"x-adaptive-cache") is None
    assert "cache_tier" not in (await response.json())["usage"]
    opted_in = await gw.client.post("/v1/chat/completions", content=openai_body(prompt_cache={"enabled": True}))
    assert opted_in.headers.get_first(b"x-adaptive-cache") == b"miss"
