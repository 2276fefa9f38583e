"""Usage records in process memory, applying the same post-flight effects as the SQL store."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime

from adapters.memory.credits import InMemoryCreditLedger
from adapters.memory.keys import InMemoryApiKeyStore
from domain.usage import ModelStats, UsageRecord, UsageStats


def usage_description(record: UsageRecord) -> str:
    return f"{record.provider}:{record.model} {record.endpoint}".strip()


class InMemoryUsageStore:
    def __init__(self, ledger: InMemoryCreditLedger | None = None, keys: InMemoryApiKeyStore | None = None) -> None:
        self._records: dict[str, UsageRecord] = {}
        self._ledger = ledger or InMemoryCreditLedger()
        self._keys = keys

    async def write(self, records: Sequence[UsageRecord]) -> None:
        for record in records:
            if record.id in self._records:
                continue
            self._records[record.id] = copy.deepcopy(record)
            if record.charge_credits and record.organization_id is not None and record.cost > 0:
                self._ledger.deduct_now(record.organization_id, record.cost, api_key_id=record.api_key_id,
                                        api_usage_id=record.id, description=usage_description(record),
                                        created_at=record.created_at)
            if self._keys is not None and record.api_key_id is not None:
                self._keys.apply_usage(record.api_key_id, record.cost, record.budget_period_start,
                                       record.created_at)

    async def get(self, record_id: str) -> UsageRecord | None:
        record = self._records.get(record_id)
        return copy.deepcopy(record) if record else None

    async def for_key(self, key_id: int, limit: int = 100, offset: int = 0) -> list[UsageRecord]:
        mine = sorted((r for r in self._records.values() if r.api_key_id == key_id),
                      key=lambda r: (r.created_at, r.id), reverse=True)
        return [copy.deepcopy(r) for r in mine[offset:offset + limit]]

    async def stats_for_key(self, key_id: int, since: datetime | None = None) -> UsageStats:
        rows: dict[tuple[str, str], ModelStats] = {}
        for r in self._records.values():
            if r.api_key_id != key_id or (since is not None and r.created_at < since):
                continue
            row = rows.setdefault((r.provider, r.model), ModelStats(r.provider, r.model))
            row.requests += 1
            row.errors += r.status != "success"
            row.input_tokens += r.input_tokens
            row.output_tokens += r.output_tokens
            row.cached_tokens += r.cached_tokens
            row.reasoning_tokens += r.reasoning_tokens
            row.cost += r.cost
        return UsageStats.from_models(list(rows.values()))

    def __len__(self) -> int:
        return len(self._records)
