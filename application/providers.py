"""The live provider clients, keyed by name, and the ones built for request-level overrides."""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from application.settings import ProviderSettings
from domain.ports import ChatProvider


class ProviderFactory(Protocol):
    """Builds a provider client from its settings (adapters pick the SDK by `settings.kind`)."""

    def create(self, name: str, settings: ProviderSettings) -> ChatProvider: ...


class ProviderRegistry:
    """One pooled client per configured provider; override clients are kept in a small LRU so a
    caller that repeats the same `provider_configs` reuses a connection pool."""

    def __init__(self, factory: ProviderFactory, providers: dict[str, ProviderSettings],
                 max_override_clients: int = 64) -> None:
        self._factory = factory
        self._settings = providers
        self._clients: dict[str, ChatProvider] = {
            name: factory.create(name, p) for name, p in providers.items() if p.active}
        self._overrides: OrderedDict[tuple[str, str], ChatProvider] = OrderedDict()
        self._max_overrides = max_override_clients
        self._retired: list[ChatProvider] = []

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
                self._retired.append(evicted)
        else:
            self._overrides.move_to_end(key)
        return client

    async def aclose(self) -> None:
        for client in [*self._clients.values(), *self._overrides.values(), *self._retired]:
            await client.aclose()
        self._overrides.clear()
        self._retired.clear()
