"""Usage records exported to ClickHouse through its plain HTTP interface.

`INSERT INTO db.table FORMAT JSONEachRow` over the shared httpx2 client works on every ClickHouse
release (tested: 18.16.1, Debian bookworm's package), where clickhouse-connect does not. The
table is a ReplacingMergeTree ordered by (created_at, id): a batch sent twice (a retry after a
lost acknowledgement, a replayed spill file) collapses to one row at the next merge; queries
that must be exact before then use `FINAL`.

`ClickHouseUsageSink` is a `UsageSink`, so the queue in front of it is the usage writer's own
(`BatchedUsageWriter`): bounded memory, retry with backoff, a spill file while ClickHouse is
down, replay when it is back. It is fed only with records the SQL ledger has committed
(`fan_out` below), so ClickHouse being down never blocks or loses the ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

import httpx2
import orjson

from domain.usage import UsageRecord

log = logging.getLogger(__name__)

COLUMNS = (
    ("id", "String"), ("request_id", "String"), ("endpoint", "String"), ("api_key_id", "Nullable(Int64)"),
    ("organization_id", "Nullable(String)"), ("provider", "String"), ("model", "String"),
    ("input_tokens", "UInt32"), ("output_tokens", "UInt32"), ("cached_tokens", "UInt32"),
    ("cache_write_tokens", "UInt32"), ("reasoning_tokens", "UInt32"), ("cost", "Decimal(38, 10)"),
    ("currency", "String"), ("pricing_unknown", "UInt8"), ("status", "String"), ("status_code", "UInt16"),
    ("latency_ms", "UInt32"), ("streamed", "UInt8"), ("cache_tier", "Nullable(String)"),
    ("selection_source", "Nullable(String)"), ("error_message", "Nullable(String)"), ("metadata", "String"),
    ("created_at", "DateTime"),
)


class ClickHouseRejected(ValueError):
    """ClickHouse refused the data itself (HTTP 4xx): the writer retries record by record and sets
    the one it refuses aside, instead of retrying the batch forever."""


def create_table_sql(database: str, table: str) -> str:
    columns = ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    return (f"CREATE TABLE IF NOT EXISTS {database}.{table} ({columns}) ENGINE = ReplacingMergeTree() "
            "PARTITION BY toYYYYMM(created_at) ORDER BY (created_at, id)")


def row(record: UsageRecord) -> dict[str, Any]:
    created = record.created_at
    if created.tzinfo is not None:
        created = created.astimezone(UTC).replace(tzinfo=None)
    return {
        "id": record.id, "request_id": record.request_id, "endpoint": record.endpoint,
        "api_key_id": record.api_key_id, "organization_id": record.organization_id, "provider": record.provider,
        "model": record.model, "input_tokens": record.input_tokens, "output_tokens": record.output_tokens,
        "cached_tokens": record.cached_tokens, "cache_write_tokens": record.cache_write_tokens,
        "reasoning_tokens": record.reasoning_tokens,
        # A bare JSON number (18.16 reads no quoted decimals), written out exactly: no float, no exponent.
        "cost": orjson.Fragment(format(Decimal(record.cost), "f")),
        "currency": record.currency, "pricing_unknown": int(record.pricing_unknown), "status": record.status,
        "status_code": record.status_code, "latency_ms": max(0, record.latency_ms), "streamed": int(record.streamed),
        "cache_tier": record.cache_tier, "selection_source": record.selection_source,
        "error_message": record.error_message, "metadata": orjson.dumps(record.metadata).decode(),
        "created_at": created.strftime("%Y-%m-%d %H:%M:%S"),
    }


class ClickHouseUsageSink:
    def __init__(self, client: httpx2.AsyncClient, url: str, *, database: str = "default",
                 table: str = "adaptive_proxy_usage", username: str = "", password: str = "",
                 timeout_s: float = 10.0) -> None:
        self._client = client
        self._url = url.rstrip("/") + "/"
        self._database = database
        self._table = table
        self._headers = {"X-ClickHouse-User": username or "default"}
        if password:
            self._headers["X-ClickHouse-Key"] = password
        self._timeout = timeout_s

    async def create_table(self) -> None:
        await self._post(create_table_sql(self._database, self._table).encode(), {})

    async def write(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        body = b"".join(orjson.dumps(row(r)) + b"\n" for r in records)
        await self._post(body, {"query": f"INSERT INTO {self._database}.{self._table} FORMAT JSONEachRow"})

    async def query(self, sql: str) -> str:
        """A read (tests, `SELECT version()`): the response text."""
        return await self._post(sql.encode(), {})

    async def _post(self, body: bytes, params: dict[str, str]) -> str:
        response = await self._client.post(self._url, params=params, content=body, headers=self._headers,
                                           timeout=self._timeout)
        if response.status_code >= 400:
            message = response.text.strip()[:300]
            if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 404, 408, 429):
                raise ClickHouseRejected(f"ClickHouse {response.status_code}: {message}")
            raise RuntimeError(f"ClickHouse {response.status_code}: {message}")
        return response.text


def fan_out(*callbacks: Callable[[Sequence[UsageRecord]], None] | None) -> Callable[[Sequence[UsageRecord]], None]:
    """One `on_written` callback calling each of `callbacks` (None entries skipped) in order."""
    present = [c for c in callbacks if c is not None]

    def call(records: Sequence[UsageRecord]) -> None:
        for callback in present:
            callback(records)

    return call
