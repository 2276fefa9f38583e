"""The admin API for keys: guard, create (plaintext once), read, update, revoke, delete, verify, usage."""

from __future__ import annotations

from pathlib import Path

import pytest
from blacksheep.contents import JSONContent

from tests.http import metered as harness
from tests.http.metered import ADMIN, ADMIN_TOKEN, bearer, chat, metered_config

metered = harness.metered  # the shared fixture


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": ADMIN_TOKEN},
                                     {"x-api-key": ADMIN_TOKEN}])
async def test_the_admin_api_needs_the_admin_token(metered, tmp_path: Path, headers) -> None:
    gw = await metered(metered_config(tmp_path))
    for method, path in (("get", "/admin/api-keys"), ("post", "/admin/api-keys"), ("get", "/admin/api-keys/1"),
                         ("get", "/admin/credits/balance/acme"), ("post", "/admin/credits/adjust")):
        response = await getattr(gw.client, method)(path, headers=headers)
        assert response.status == 401, (method, path)


async def test_an_api_key_is_not_an_admin_token(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    key = (await gw.new_key())["key"]
    assert (await gw.client.get("/admin/api-keys", headers=bearer(key))).status == 401


async def test_create_shows_the_key_once(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    response = await gw.client.post("/admin/api-keys", headers=ADMIN, content=JSONContent({
        "name": "ci", "organization_id": "acme", "rate_limit_rpm": 60, "budget_limit": 12.5,
        "budget_period": "monthly", "expires_at": "2999-01-01T00:00:00Z", "metadata": {"env": "prod"}}))
    assert response.status == 201
    created = await response.json()
    assert created["key"].startswith("apk_") and len(created["key"]) == 47
    assert created["key_prefix"] == created["key"][:12]
    assert (created["organization_id"], created["rate_limit_rpm"], created["budget_limit"]) == ("acme", 60, "12.5")
    assert created["expires_at"] == "2999-01-01T00:00:00Z" and created["state"] == "active"
    fetched = await gw.admin_get(f"/admin/api-keys/{created['id']}")
    assert "key" not in fetched and fetched["metadata"] == {"env": "prod"}
    listed = await gw.admin_get("/admin/api-keys?organization_id=acme")
    assert [k["id"] for k in listed["data"]] == [created["id"]] and "key" not in listed["data"][0]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": "x", "rate_limit_rpm": -1},
                                  {"name": "x", "budget_period": "yearly"}, {"name": "x", "bogus": 1},
                                  {"name": "x", "expires_at": "tomorrow"}])
async def test_create_rejects_bad_fields(metered, tmp_path: Path, body) -> None:
    gw = await metered(metered_config(tmp_path))
    response = await gw.client.post("/admin/api-keys", headers=ADMIN, content=JSONContent(body))
    assert response.status == 400 and (await response.json())["error"]["type"] == "invalid_request_error"


async def test_patch_revoke_delete_and_verify(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    created = await gw.new_key()
    key_id, plaintext = created["id"], created["key"]
    patched = await gw.client.patch(f"/admin/api-keys/{key_id}", headers=ADMIN, content=JSONContent(
        {"name": "renamed", "metadata": {"a": 1}, "rate_limit_rpm": 5, "budget_limit": "3", "is_active": False}))
    assert patched.status == 200
    body = await patched.json()
    assert (body["name"], body["rate_limit_rpm"], body["budget_limit"], body["state"]) == ("renamed", 5, "3",
                                                                                          "inactive")
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(plaintext))).status == 401
    await gw.client.patch(f"/admin/api-keys/{key_id}", headers=ADMIN, content=JSONContent({"is_active": True}))
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(plaintext))).status == 200

    verify = await gw.client.post("/admin/api-keys/verify", headers=ADMIN, content=JSONContent({"key": plaintext}))
    assert (await verify.json())["valid"] is True
    revoked = await gw.client.post(f"/admin/api-keys/{key_id}/revoke", headers=ADMIN)
    assert (await revoked.json())["state"] == "revoked"
    verify = await gw.client.post("/admin/api-keys/verify", headers=ADMIN, content=JSONContent({"key": plaintext}))
    assert await verify.json() == {"valid": False, "reason": "revoked", "api_key": (await verify.json())["api_key"]}
    unknown = await gw.client.post("/admin/api-keys/verify", headers=ADMIN, content=JSONContent({"key": "apk_x"}))
    assert (await unknown.json())["valid"] is False

    deleted = await gw.client.delete(f"/admin/api-keys/{key_id}", headers=ADMIN)
    assert deleted.status == 200 and (await deleted.json())["deleted"] is True
    assert (await gw.client.get(f"/admin/api-keys/{key_id}", headers=ADMIN)).status == 404
    assert (await gw.client.delete(f"/admin/api-keys/{key_id}", headers=ADMIN)).status == 404
    assert (await gw.client.get("/admin/api-keys/abc", headers=ADMIN)).status == 400


async def test_usage_and_stats_of_a_key(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    created = await gw.new_key()
    for _ in range(3):
        await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(created["key"]))
    # a bad model is refused before anything is served: no row; an upstream failure is recorded
    await gw.client.post("/v1/chat/completions", content=chat(model="up:zzz"), headers=bearer(created["key"]))
    gw.upstream.fail = True
    await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(created["key"]))
    await gw.flush()
    page = await gw.admin_get(f"/admin/api-keys/{created['id']}/usage?limit=2")
    assert len(page["data"]) == 2 and page["has_more"] is True
    assert page["data"][0]["status"] == "error" and page["data"][1]["cost"] == "0.0018"
    rest = await gw.admin_get(f"/admin/api-keys/{created['id']}/usage?limit=2&offset=2")
    assert len(rest["data"]) == 2
    stats = await gw.admin_get(f"/admin/api-keys/{created['id']}/stats")
    assert (stats["requests"], stats["errors"], stats["cost"], stats["input_tokens"]) == (4, 1, "0.0054", 3000)
    assert {(m["model"], m["requests"]) for m in stats["by_model"]} == {("m1", 3), ("", 1)}  # failed: unserved
    since = await gw.admin_get(f"/admin/api-keys/{created['id']}/stats?since=2999-01-01T00:00:00Z")
    assert since["requests"] == 0
    assert (await gw.client.get("/admin/api-keys/999/usage", headers=ADMIN)).status == 404
    listed = await gw.admin_get("/admin/api-keys")
    assert listed["data"][0]["last_used_at"] is not None
