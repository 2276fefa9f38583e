"""The request path with keys, limits, credits and usage on: every family, every outcome."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from blacksheep.contents import JSONContent

from tests.http import metered as harness
from tests.http.metered import ADMIN, bearer, chat, metered_config

metered = harness.metered  # the shared fixture

GEMINI_BODY = JSONContent({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
MESSAGES_BODY = JSONContent({"model": "up_anthropic:claude-x", "max_tokens": 16,
                             "messages": [{"role": "user", "content": "hi"}]})


async def test_every_family_accepts_the_header_its_sdk_sends(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    key = (await gw.new_key())["key"]
    cases = [
        ("/v1/chat/completions", chat(), bearer(key)),
        ("/v1/messages", MESSAGES_BODY, {"x-api-key": key, "anthropic-version": "2023-06-01"}),
        ("/v1/messages", MESSAGES_BODY, bearer(key)),
        ("/v1beta/models/up_gemini:gemini-x:generateContent", GEMINI_BODY, {"x-goog-api-key": key}),
        (f"/v1beta/models/up_gemini:gemini-x:generateContent?key={key}", GEMINI_BODY, {}),
    ]
    for path, body, headers in cases:
        response = await gw.client.post(path, content=body, headers=headers)
        assert response.status == 200, (path, await response.text())
    assert (await gw.client.get("/v1/models", headers=bearer(key))).status == 200


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer apk_" + "x" * 43}, {"x-api-key": "nope"},
                                     {"authorization": "Basic abc"}])
async def test_missing_or_unknown_keys_are_401_in_each_familys_shape(metered, tmp_path: Path, headers) -> None:
    gw = await metered(metered_config(tmp_path))
    openai = await gw.client.post("/v1/chat/completions", content=chat(), headers=headers)
    assert openai.status == 401
    assert (await openai.json())["error"]["type"] == "authentication_error"
    anthropic = await gw.client.post("/v1/messages", content=MESSAGES_BODY, headers=headers)
    assert anthropic.status == 401
    error = (await anthropic.json())["error"]
    assert await anthropic.json() == {"type": "error", "error": {"type": "authentication_error",
                                                                 "message": error["message"]}}
    gemini = await gw.client.post("/v1beta/models/up_gemini:gemini-x:generateContent", content=GEMINI_BODY,
                                  headers=headers)
    assert gemini.status == 401 and (await gemini.json())["error"]["status"] == "UNAUTHENTICATED"
    assert gw.upstream.calls == 0


async def test_revoked_and_expired_keys_are_401_and_open_routes_stay_open(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    revoked = await gw.new_key()
    await gw.client.post(f"/admin/api-keys/{revoked['id']}/revoke", headers=ADMIN)
    expired = await gw.new_key(expires_at="2000-01-01T00:00:00Z")
    for key in (revoked["key"], expired["key"]):
        response = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
        assert response.status == 401
    assert (await gw.client.get("/health")).status == 200
    assert (await gw.client.post("/webhooks/stripe", content=JSONContent({}))).status != 401


async def test_over_the_key_rpm_is_429_with_retry_after(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    key = (await gw.new_key(rate_limit_rpm=2))["key"]
    for _ in range(2):
        assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    limited = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
    assert limited.status == 429 and int(limited.headers.get_first(b"retry-after")) >= 1
    assert (await limited.json())["error"]["type"] == "rate_limit_error"
    anthropic = await gw.client.post("/v1/messages", content=MESSAGES_BODY, headers=bearer(key))
    assert anthropic.status == 429 and (await anthropic.json())["error"]["type"] == "rate_limit_error"
    assert gw.upstream.calls == 2
    rows = await gw.usage()  # refusals are recorded too, and attributed to the key
    assert [(r["status_code"], r["api_key_id"] is not None) for r in rows] == [(200, True)] * 2 + [(429, True)] * 2


async def test_default_rpm_applies_to_keys_without_their_own(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, rate_limit={"requests_per_minute": 1}))
    key = (await gw.new_key())["key"]
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 429


async def test_per_provider_limits_answer_429(metered, tmp_path: Path) -> None:
    # no retries: the executor would otherwise honour the Retry-After (a minute here) and wait for the slot
    config = metered_config(tmp_path, rate_limit={"per_provider": True}, fallback={"max_retries": 0})
    config["providers"]["up"]["rate_limit_rpm"] = 1
    gw = await metered(config)
    key = (await gw.new_key())["key"]
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    limited = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
    assert limited.status == 429 and limited.headers.get_first(b"retry-after")
    assert gw.upstream.calls == 1


async def test_one_usage_record_per_request_whatever_the_outcome(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    created = await gw.new_key(metadata={"team": "t"})
    key = created["key"]
    h = {**bearer(key), "x-request-id": "req-1", "x-adaptive-metadata": '{"project": "apollo", "user": "u1"}'}
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=h)).status == 200
    streamed = await gw.client.post("/v1/chat/completions", content=chat(stream=True), headers=bearer(key))
    assert streamed.status == 200 and "[DONE]" in await streamed.text()
    assert (await gw.client.post("/v1/chat/completions", content=chat(model="up:nope"), headers=bearer(key))
            ).status == 400
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer("bad"))).status == 401
    gw.upstream.fail = True
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 502
    rows = await gw.usage()
    assert [(r["status"], r["status_code"], r["streamed"]) for r in rows] == [
        ("success", 200, False), ("success", 200, True), ("error", 401, False), ("error", 502, False)]
    plain, stream, no_key, failed = rows  # the bad model (400) was refused: nothing recorded
    # 600 plain input x $1 + 400 cached x $0.5 + 500 output x $2, per million
    assert plain["cost"] == 18_000_000 and plain["cached_tokens"] == 400  # 0.0018 in 1e-10 units
    assert plain["request_id"] == "req-1" and plain["metadata"] == {"project": "apollo", "user": "u1"}
    assert (plain["provider"], plain["model"], plain["selection_source"]) == ("up", "m1", "manual_override")
    assert plain["api_key_id"] == created["id"] and plain["endpoint"] == "/v1/chat/completions"
    assert (stream["input_tokens"], stream["output_tokens"], stream["cost"]) == (2000, 1000, 40_000_000)
    assert no_key["api_key_id"] is None and "invalid" in no_key["error_message"]
    assert failed["provider"] == "" or failed["cost"] == 0
    assert len({r["id"] for r in rows}) == 4


async def test_usage_is_recorded_without_keys_too(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, auth={"api_keys": False, "admin_token": ""}))
    assert (await gw.client.post("/v1/chat/completions", content=chat())).status == 200
    assert (await gw.client.get("/admin/api-keys")).status == 401  # no token: the admin API is closed
    rows = await gw.usage()
    assert len(rows) == 1 and rows[0]["api_key_id"] is None and rows[0]["cost"] == 18_000_000


async def test_with_everything_off_nothing_is_in_the_request_path(metered, tmp_path: Path) -> None:
    config = metered_config(tmp_path, auth={"api_keys": False, "admin_token": ""}, usage={"enabled": False})
    gw = await metered(config)
    assert len(gw.app.middlewares) == 1
    assert (await gw.client.post("/v1/chat/completions", content=chat())).status == 200


async def test_budget_exhausted_is_402(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    key = (await gw.new_key(budget_limit="0.002", budget_period="daily"))["key"]
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    refused = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
    assert refused.status == 402 and (await refused.json())["error"]["code"] == "budget_exceeded"
    assert gw.upstream.calls == 2
    await gw.flush()
    listed = await gw.admin_get("/admin/api-keys")
    assert listed["data"][0]["budget_used"] == "0.0036"


async def test_credits_preflight_and_postflight(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, credits={"enabled": True}))
    key = (await gw.new_key(organization_id="acme"))["key"]
    refused = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
    assert refused.status == 402 and (await refused.json())["error"]["type"] == "insufficient_quota"
    anthropic = await gw.client.post("/v1/messages", content=MESSAGES_BODY, headers=bearer(key))
    assert anthropic.status == 402 and (await anthropic.json())["error"]["type"] == "billing_error"
    assert gw.upstream.calls == 0
    grant = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(
        {"organization_id": "acme", "amount": "0.003", "type": "promotional", "description": "trial"}))
    assert grant.status == 201
    for _ in range(2):  # 0.003 -> 0.0012 -> -0.0006: one request past zero, then no more
        assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 402
    await gw.flush()
    balance = await gw.admin_get("/admin/credits/balance/acme")
    assert Decimal(balance["balance"]) == Decimal("-0.0006") and balance["total_used"] == "0.0036"
    txs = (await gw.admin_get("/admin/credits/transactions/acme"))["data"]
    assert [t["type"] for t in txs] == ["usage", "usage", "promotional"]
    usage_ids = {r["id"] for r in await gw.usage() if r["status"] == "success"}
    assert {t["api_usage_id"] for t in txs if t["type"] == "usage"} == usage_ids
