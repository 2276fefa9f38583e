"""Clearing a cache from the dashboard: both stores (in-memory and real Redis) empty their entries
and vectors and leave other namespaces alone; the admin endpoint and the /ui form use it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as redis_asyncio
from blacksheep.contents import FormContent

from adapters.memory.keyed_cache import InMemoryRouteCache
from adapters.redis.keyed_cache import RedisResponseCache, RedisRouteCache
from domain.route_cache import CachedRoute
from tests.http.conftest import gateway, slept
from tests.ui.test_dashboard_http import TOKEN, config, logged_in, never_called

__all__ = ["gateway", "slept"]

ROUTE = CachedRoute("dear:large", ("cheap:small",), 0.5, "router", stored_at=1700000000.0)


def key(n: int) -> str:
    return f"{n:064x}"


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[], Any]]:
    if request.param == "memory":
        yield lambda: (InMemoryRouteCache(), None)
        return
    url, prefix = request.getfixturevalue("redis_url")
    client = redis_asyncio.Redis.from_url(url)
    yield lambda: (RedisRouteCache(client, prefix=prefix), RedisResponseCache(client, prefix=prefix))
    await client.aclose()


async def test_clear_empties_entries_and_vectors(stores: Callable[[], Any]) -> None:
    store, neighbour = stores()
    for n in range(3):
        await store.put(key(n), ROUTE, 60, bucket="b", vector=[1.0, 0.0, float(n)])
    assert await store.size() == 3
    assert await store.clear() == 3
    assert await store.size() == 0
    assert await store.get(key(1)) is None
    assert await store.nearest("b", [1.0, 0.0, 0.0], 0.5) is None
    await store.put(key(9), ROUTE, 60)  # still usable afterwards
    assert await store.get(key(9)) == ROUTE
    if neighbour is not None:  # the response cache shares the prefix, not the namespace
        assert await neighbour.size() == 0


async def test_the_admin_endpoint_and_the_form_clear_a_cache(gateway: Callable[..., Any]) -> None:
    client = await gateway(config(admin_token=TOKEN), never_called)
    admin = {"authorization": f"Bearer {TOKEN}"}
    assert (await client.post("/admin/caches/routing/clear")).status == 401
    cleared = await client.post("/admin/caches/routing/clear", headers=admin)
    assert await cleared.json() == {"cache": "routing", "removed": 0}
    assert (await client.post("/admin/caches/nope/clear", headers=admin)).status == 404
    cookie, csrf = await logged_in(client)
    page = await client.post("/ui/cache/clear", content=FormContent({"csrf": csrf, "cache": "routing"}),
                             headers={"cookie": cookie})
    assert page.status == 200 and "Cleared the routing cache: 0 entries removed." in await page.text()
    refused = await client.post("/ui/cache/clear", content=FormContent({"cache": "routing"}),
                                headers={"cookie": cookie})
    assert refused.status == 403
    assert re.search(r'id="clear-response"', await (await client.get("/ui/cache", headers={"cookie": cookie})).text())


