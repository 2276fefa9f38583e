"""One usage record per gateway request, and the aggregates the admin API reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from domain.keys import EPOCH

UsageStatus = Literal["success", "error", "cancelled"]


@dataclass(slots=True)
class UsageRecord:
    """What one request cost. `id` is minted by the gateway (never taken from the client), and
    every store writes a given id at most once, so a record can be retried safely."""

    id: str
    request_id: str = ""
    endpoint: str = ""
    api_key_id: int | None = None
    organization_id: str | None = None
    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    currency: str = "USD"
    pricing_unknown: bool = False
    status: UsageStatus = "success"
    status_code: int = 200
    latency_ms: int = 0
    streamed: bool = False
    cache_tier: str | None = None
    selection_source: str | None = None
    error_message: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = EPOCH
    # Post-flight instructions for the store, applied in the same transaction as the insert:
    charge_credits: bool = False  # deduct `cost` from the organization's balance
    budget_period_start: datetime | None = None  # add `cost` to the key's budget for this period


@dataclass(slots=True)
class ModelStats:
    provider: str
    model: str
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)


@dataclass(slots=True)
class UsageStats:
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: Decimal = Decimal(0)
    by_model: list[ModelStats] = field(default_factory=list)

    @classmethod
    def from_models(cls, rows: list[ModelStats]) -> UsageStats:
        stats = cls(by_model=sorted(rows, key=lambda r: (r.provider, r.model)))
        for row in rows:
            stats.requests += row.requests
            stats.errors += row.errors
            stats.input_tokens += row.input_tokens
            stats.output_tokens += row.output_tokens
            stats.cached_tokens += row.cached_tokens
            stats.reasoning_tokens += row.reasoning_tokens
            stats.cost += row.cost
        return stats
