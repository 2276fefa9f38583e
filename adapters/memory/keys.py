"""API keys in process memory (tests, notebooks, a gateway without a database)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from domain.keys import ApiKey


class InMemoryApiKeyStore:
    def __init__(self) -> None:
        self._keys: dict[int, ApiKey] = {}
        self._by_hash: dict[str, int] = {}
        self._next_id = 1

    async def create(self, key: ApiKey) -> ApiKey:
        if key.key_hash in self._by_hash:
            raise ValueError("duplicate key hash")
        stored = copy.deepcopy(key)
        stored.id = self._next_id
        self._next_id += 1
        self._keys[stored.id] = stored
        self._by_hash[stored.key_hash] = stored.id
        return copy.deepcopy(stored)

    async def get(self, key_id: int) -> ApiKey | None:
        key = self._keys.get(key_id)
        return copy.deepcopy(key) if key else None

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        key_id = self._by_hash.get(key_hash)
        return await self.get(key_id) if key_id is not None else None

    async def list(self, organization_id: str | None = None, include_inactive: bool = True,
                   limit: int = 100, offset: int = 0) -> list[ApiKey]:
        keys = [k for k in self._keys.values()
                if (organization_id is None or k.organization_id == organization_id)
                and (include_inactive or (k.is_active and k.revoked_at is None))]
        keys.sort(key=lambda k: k.id, reverse=True)
        return [copy.deepcopy(k) for k in keys[offset:offset + limit]]

    async def update(self, key_id: int, changes: Mapping[str, Any]) -> ApiKey | None:
        key = self._keys.get(key_id)
        if key is None:
            return None
        for name, value in changes.items():
            if not hasattr(key, name) or name in ("id", "key_hash"):
                raise ValueError(f"cannot change {name!r}")
            setattr(key, name, copy.deepcopy(value))
        return copy.deepcopy(key)

    async def delete(self, key_id: int) -> bool:
        key = self._keys.pop(key_id, None)
        if key is None:
            return False
        self._by_hash.pop(key.key_hash, None)
        return True

    def apply_usage(self, key_id: int, cost: Any, period_start: Any, used_at: Any) -> None:
        """The post-flight effects of a usage record on its key (called by the usage store)."""
        key = self._keys.get(key_id)
        if key is None:
            return
        if key.last_used_at is None or used_at > key.last_used_at:
            key.last_used_at = used_at
        if period_start is None:
            return
        if key.budget_period_start is None or key.budget_period_start < period_start:
            key.budget_period_start, key.budget_used = period_start, cost
        elif key.budget_period_start == period_start:
            key.budget_used += cost
