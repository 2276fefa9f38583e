"""The admin API's pydantic models: requests keep the hand-written messages, and what the routes
return is exactly what /openapi.json documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blacksheep.contents import JSONContent
from pydantic import BaseModel

from entrypoints.http.schemas import admin as schemas
from tests.http import metered as harness
from tests.http.metered import ADMIN, bearer, chat, metered_config

metered = harness.metered  # the shared fixture


@pytest.mark.parametrize(("method", "path", "body", "param", "message"), [
    ("post", "/admin/api-keys", {"name": "x", "bogus": 1}, "bogus", "unknown field 'bogus'"),
    ("post", "/admin/api-keys", {}, "name", "name must be a non-empty string of at most 255 characters"),
    ("post", "/admin/api-keys", {"name": "x", "rate_limit_rpm": True}, "rate_limit_rpm",
     "rate_limit_rpm must be a positive integer or null"),
    ("post", "/admin/api-keys", {"name": "x", "budget_period": "yearly"}, "budget_period",
     "budget_period must be one of daily, weekly, monthly or null"),
    ("post", "/admin/api-keys", {"name": "x", "organization_id": ""}, "organization_id",
     "organization_id must be a non-empty string or null"),
    ("patch", "/admin/api-keys/1", {"bogus": 1}, "bogus", "unknown or read-only field 'bogus'"),
    ("patch", "/admin/api-keys/1", {"is_active": "no"}, "is_active", "is_active must be true or false"),
    ("post", "/admin/api-keys/verify", {"key": 5}, "key", "key must be a string"),
    ("post", "/admin/credits/adjust", {"organization_id": "acme", "amount": 5, "type": "purchase"}, "type",
     "type must be 'promotional' or 'refund'"),
    ("post", "/admin/credits/adjust", {"amount": 5}, "organization_id", "organization_id must be a non-empty string"),
    ("post", "/admin/credits/adjust", {"organization_id": "acme", "amount": True}, "amount",
     "amount must be a positive number"),
])
async def test_bad_admin_bodies_are_400_with_the_field_and_message(metered, tmp_path: Path, method, path, body,
                                                                  param, message) -> None:
    gw = await metered(metered_config(tmp_path))
    response = await getattr(gw.client, method)(path, headers=ADMIN, content=JSONContent(body))
    error = (await response.json())["error"]
    assert (response.status, error["type"], error["param"], error["message"]) == (
        400, "invalid_request_error", param, message)


def _shaped(model: type[BaseModel], body: Any) -> None:
    """The body validates against the documented model and has no undocumented field."""
    model.model_validate(body)
    assert set(body) == set(model.model_fields), model.__name__


async def test_admin_responses_are_what_the_document_says(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, credits={"enabled": True}))
    created = await gw.new_key(organization_id="acme", budget_limit="5", metadata={"a": 1})
    _shaped(schemas.IssuedKeyOut, created)
    key_id = created["id"]
    _shaped(schemas.ApiKeyOut, await gw.admin_get(f"/admin/api-keys/{key_id}"))
    listed = await gw.admin_get("/admin/api-keys")
    _shaped(schemas.KeyList, listed)
    _shaped(schemas.ApiKeyOut, listed["data"][0])
    adjusted = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(
        {"organization_id": "acme", "amount": "10"}))
    assert adjusted.status == 201
    body = await adjusted.json()
    _shaped(schemas.AdjustmentOut, body)
    _shaped(schemas.TransactionOut, body["transaction"])
    _shaped(schemas.BalanceOut, body["balance"])
    await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(created["key"]))
    await gw.flush()
    usage = await gw.admin_get(f"/admin/api-keys/{key_id}/usage")
    _shaped(schemas.UsagePage, usage)
    _shaped(schemas.UsageOut, usage["data"][0])
    stats = await gw.admin_get(f"/admin/api-keys/{key_id}/stats")
    _shaped(schemas.KeyStatsOut, stats)
    _shaped(schemas.ModelTotals, stats["by_model"][0])
    _shaped(schemas.TransactionPage, await gw.admin_get("/admin/credits/transactions/acme"))
    verified = await gw.client.post("/admin/api-keys/verify", headers=ADMIN, content=JSONContent(
        {"key": created["key"]}))
    _shaped(schemas.VerifyKeyOut, await verified.json())
    deleted = await gw.client.delete(f"/admin/api-keys/{key_id}", headers=ADMIN)
    _shaped(schemas.DeletedKeyOut, await deleted.json())
