"""Load shedding: while the usage writer is stalled with `usage.shed_above` records waiting,
metered requests get 503 `ledger_overloaded` with Retry-After in their family's shape, and
nothing is recorded for them; once the writer catches up, requests are admitted again."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from blacksheep.contents import JSONContent
from dependency_injector import providers

from adapters.config import settings_from_dict
from container import build_container
from domain.usage import UsageRecord
from tests.http.metered import bearer, chat, metered, metered_config  # noqa: F401  (fixture)


class StalledSink:
    """The real SQL store behind a gate: writes wait until the test opens it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.gate = asyncio.Event()

    async def write(self, records: Sequence[UsageRecord]) -> None:
        await self.gate.wait()
        await self.store.write(records)


async def test_a_stalled_ledger_sheds_metered_requests_with_503_and_retry_after(
        metered: Callable[..., Any], tmp_path: Path) -> None:  # noqa: F811
    # batch_size 1: the writer takes one record and stalls on it; the others wait in memory.
    config = metered_config(tmp_path, usage={"shed_above": 2, "shed_retry_after_s": 3, "batch_size": 1},
                            telemetry={"metrics": {"enabled": True}})
    container = build_container(settings_from_dict(config))
    stalled = StalledSink(container.metering.usage_store())
    container.metering.usage_store.override(providers.Object(stalled))
    gw = await metered(config, container=container)
    key = (await gw.new_key(organization_id="org"))["key"]

    statuses = []
    for _ in range(6):
        response = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
        statuses.append(response.status)
        if response.status == 503:
            shed_body, retry_after = await response.json(), response.get_first_header(b"retry-after")
        for _ in range(5):  # let the writer task take what it can (no sleep: yields only)
            await asyncio.sleep(0)
    admitted = statuses.count(200)
    assert statuses[0] == 200 and 503 in statuses and set(statuses) == {200, 503}
    assert shed_body["error"]["code"] == "ledger_overloaded" and "ledger" in shed_body["error"]["message"]
    assert retry_after == b"3"

    anthropic = await gw.client.post("/v1/messages", headers={"x-api-key": key}, content=JSONContent(
        {"model": "up_anthropic:claude-x", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}))
    assert anthropic.status == 503
    body = await anthropic.json()
    assert body == {"type": "error", "error": {"type": "overloaded_error", "message": shed_body["error"]["message"]}}

    stalled.gate.set()
    rows = await gw.usage()
    assert len(rows) == admitted  # one row per admitted request, none for the shed ones
    shed = statuses.count(503) + 1
    assert container.metering.usage_writer().stats()["shed"] == shed
    metrics = await (await gw.client.get("/metrics")).text()
    assert f"adaptive_proxy_usage_requests_shed {float(shed)}" in metrics
    after = await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))
    assert after.status == 200
