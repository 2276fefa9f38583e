"""The chat use case meters and admits by itself (MeteredChat): a Python caller of
`Proxy.chat` / `container.chat_service()` gets the same keys, limits, credits and usage rows as
an HTTP caller, with no HTTP layer involved."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from blacksheep.contents import JSONContent

from application.chat import ChatCall
from domain.chat import ChatRequest, Message, TextPart
from domain.errors import AuthenticationFailed, PaymentRequired, RateLimited
from tests.http import metered as harness
from tests.http.metered import ADMIN, metered_config

metered = harness.metered  # the shared fixture


def call_of(service, api_key: str | None, stream: bool = False, **metadata: str) -> ChatCall:
    request = ChatRequest(model="up:m1", messages=[Message(role="user", content=[TextPart("hi")])], stream=stream)
    return ChatCall(request, "chat_completions", service.resolve_config({}), request_id="lib-1",
                    api_key=api_key, metadata=metadata or None)


async def test_a_python_caller_is_admitted_and_recorded_like_http(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    key = await gw.new_key(organization_id="acme")
    service = gw.container.chat_service()
    outcome = await service.complete(call_of(service, key["key"], project="batch"))
    assert outcome.response.text() == "hello"
    with pytest.raises(AuthenticationFailed):
        await service.complete(call_of(service, None))
    with pytest.raises(AuthenticationFailed):
        await service.complete(call_of(service, "ap-not-a-key"))
    assert gw.upstream.calls == 1  # refused calls never reach the upstream
    rows = await gw.usage()
    assert [(r["status"], r["status_code"]) for r in rows] == [("success", 200), ("error", 401), ("error", 401)]
    served = rows[0]
    assert served["api_key_id"] == key["id"] and served["endpoint"] == "chat_completions"
    assert (served["provider"], served["model"], served["input_tokens"], served["output_tokens"]) == \
        ("up", "m1", 1000, 500)
    assert Decimal(str(served["cost"])) > 0 and served["metadata"] == {"project": "batch"}


async def test_a_python_stream_closes_its_usage_row_when_it_ends(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    key = await gw.new_key()
    service = gw.container.chat_service()
    outcome = await service.stream(call_of(service, key["key"], stream=True))
    assert await gw.usage() == []  # open until the stream ends
    events = [event async for event in outcome.events]
    assert events
    (row,) = await gw.usage()
    assert (row["status"], row["streamed"], row["input_tokens"], row["output_tokens"]) == ("success", True, 2000, 1000)


async def test_python_callers_hit_the_same_rate_limit_and_credits(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, credits={"enabled": True}))
    limited = await gw.new_key(organization_id="acme", rate_limit_rpm=1)
    service = gw.container.chat_service()
    with pytest.raises(PaymentRequired):
        await service.complete(call_of(service, limited["key"]))  # no credit yet
    grant = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(
        {"organization_id": "acme", "amount": "1", "type": "promotional", "description": "trial"}))
    assert grant.status == 201
    with pytest.raises(RateLimited):  # the refused call above used the key's one request this minute
        await service.complete(call_of(service, limited["key"]))
    other = await gw.new_key(organization_id="acme")
    await service.complete(call_of(service, other["key"]))
    await gw.flush()
    balance = await gw.admin_get("/admin/credits/balance/acme")
    assert Decimal(balance["balance"]) == Decimal(1) - Decimal("0.0018")
    statuses = [(r["status_code"], r["api_key_id"]) for r in await gw.usage()]
    assert statuses == [(402, limited["id"]), (429, limited["id"]), (200, other["id"])]
