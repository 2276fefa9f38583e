"""The live provider clients, keyed by name, and the ones built for request-level overrides."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Protocol

from application.settings import ProviderSettings
from domain.ports import ChatProvider

log = logging.getLogger(__name__)


class ProviderFactory(Protocol):
    """Builds a provider client from its settings (adapters pick the SDK by `settings.kind`)."""

    def create(self, name: str, settings: ProviderSettings) -> ChatProvider: ...


class ProviderRegistry:
    """One pooled client per configured provider; override clients are kept in a small LRU so a
    caller that repeats the same `provider_configs` reuses a connection pool. An evicted override
    client is closed in the background and forgotten: nothing accumulates until shutdown. (The
    factory's clients share the gateway's pool, so closing one never cuts a request in flight.)"""

    def __init__(self, factory: ProviderFactory, providers: dict[str, ProviderSettings],
                 max_override_clients: int = 64) -> None:
        self._factory = factory
        self._settings = providers
        self._clients: dict[str, ChatProvider] = {
            name: factory.create(name, p) for name, p in providers.items() if p.active}
        self._overrides: OrderedDict[tuple[str, str], ChatProvider] = OrderedDict()
        self._max_overrides = max_override_clients
        self._closing: set[asyncio.Task[None]] = set()

    def names(self) -> list[str]:
        return list(self._clients)

    def get(self, name: str, settings: ProviderSettings | None = None) -> ChatProvider | None:
        """The client for `name`; when `settings` differ from the YAML, a client for those."""
        if settings is None or settings is self._settings.get(name):
            return self._clients.get(name)
        if not settings.active:
            return None
        key = (name, settings.model_dump_json())
        client = self._overrides.get(key)
        if client is None:
            client = self._factory.create(name, settings)
            self._overrides[key] = client
            if len(self._overrides) > self._max_overrides:
                _, evicted = self._overrides.popitem(last=False)
                self._retire(evicted)
        else:
            self._overrides.move_to_end(key)
        return client

    def _retire(self, client: ChatProvider) -> None:
        task = asyncio.get_running_loop().create_task(self._close(client))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close(client: ChatProvider) -> None:
        try:
            await client.aclose()
        except Exception:  # a client that fails to close must not fail a request
            log.warning("closing an evicted provider client failed", exc_info=True)

    async def aclose(self) -> None:
        for client in [*self._clients.values(), *self._overrides.values()]:
            await client.aclose()
        self._overrides.clear()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)
