"""KeyCache on an injected clock: fresh entries for the TTL, the grace only while the store fails."""

from __future__ import annotations

import pytest

from adapters.memory.keys import InMemoryApiKeyStore
from application.keys import KeyCache, KeyService
from tests.clock import FrozenClock


class FlakyStore(InMemoryApiKeyStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.reads = 0

    async def find_by_hash(self, key_hash: str):  # type: ignore[no-untyped-def]
        self.reads += 1
        if self.down:
            raise ConnectionError("database unreachable")
        return await super().find_by_hash(key_hash)


async def test_fresh_entries_skip_the_store_for_the_ttl_only() -> None:
    store, clock = FlakyStore(), FrozenClock()
    keys = KeyService(store, KeyCache(ttl_s=10, clock=clock))
    issued = await keys.issue("a")
    await keys.verify(issued.plaintext)
    clock.t += 9.9
    await keys.verify(issued.plaintext)
    assert store.reads == 1
    clock.t += 0.1
    await keys.verify(issued.plaintext)
    assert store.reads == 2


async def test_the_grace_applies_only_while_the_store_fails() -> None:
    store, clock = FlakyStore(), FrozenClock()
    cache = KeyCache(ttl_s=0, grace_s=30, clock=clock)
    keys = KeyService(store, cache)
    issued = await keys.issue("a")
    await keys.verify(issued.plaintext)
    await keys.verify(issued.plaintext)
    assert store.reads == 2  # ttl 0: a store that answers is always read
    store.down = True
    clock.t += 29.9
    assert (await keys.verify(issued.plaintext)).id == issued.key.id
    assert cache.status()["degraded"] is True
    clock.t += 0.1
    with pytest.raises(ConnectionError):
        await keys.verify(issued.plaintext)
    store.down = False
    await keys.verify(issued.plaintext)
    assert cache.status()["degraded"] is False


async def test_no_grace_refuses_every_key_during_an_outage() -> None:
    store = FlakyStore()
    keys = KeyService(store, KeyCache(ttl_s=0, grace_s=0, clock=FrozenClock()))
    issued = await keys.issue("a")
    await keys.verify(issued.plaintext)
    store.down = True
    with pytest.raises(ConnectionError):
        await keys.verify(issued.plaintext)
