"""Usage records in SQL, with their post-flight effects in the same transaction.

`write(records)` in one transaction: skip ids already stored, insert the rest (multi-row
inserts, `adapters/sql/bulk.py`), deduct charged costs from their organizations (one atomic
UPDATE per organization and batch, one `usage` transaction row per record, linked by
`api_usage_id`), and advance each key's budget and last-used time. Rows are locked in a fixed
order (organizations, then keys, each sorted) so concurrent writers on several instances cannot
deadlock.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, func, literal, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.bulk import insert_rows
from adapters.sql.credits import change_balance_sync
from adapters.sql.engine import in_transaction, sqlite_file
from adapters.sql.models import UtcDateTime, api_keys, credit_transactions, usage
from adapters.sql.write_thread import WriteThread
from domain.credits import from_units, to_units
from domain.usage import ModelStats, UsageRecord, UsageStats


def _row(r: UsageRecord) -> dict[str, Any]:
    return {
        "id": r.id, "request_id": r.request_id[:128], "api_key_id": r.api_key_id,
        "organization_id": r.organization_id, "endpoint": r.endpoint[:255], "provider": r.provider[:64],
        "model": r.model[:255], "input_tokens": r.input_tokens, "output_tokens": r.output_tokens,
        "cached_tokens": r.cached_tokens, "cache_write_tokens": r.cache_write_tokens,
        "reasoning_tokens": r.reasoning_tokens, "cost": to_units(r.cost), "currency": r.currency[:8],
        "pricing_unknown": r.pricing_unknown, "status": r.status, "status_code": r.status_code,
        "latency_ms": r.latency_ms, "streamed": r.streamed, "cache_tier": (r.cache_tier or None) and r.cache_tier[:32],
        "selection_source": (r.selection_source or None) and r.selection_source[:32],
        "error_message": r.error_message, "metadata": r.metadata, "created_at": r.created_at,
    }


def record_from_row(row: Row[Any]) -> UsageRecord:
    m = row._mapping
    return UsageRecord(
        id=m["id"], request_id=m["request_id"], endpoint=m["endpoint"], api_key_id=m["api_key_id"],
        organization_id=m["organization_id"], provider=m["provider"], model=m["model"],
        input_tokens=m["input_tokens"], output_tokens=m["output_tokens"], cached_tokens=m["cached_tokens"],
        cache_write_tokens=m["cache_write_tokens"], reasoning_tokens=m["reasoning_tokens"],
        cost=from_units(m["cost"]), currency=m["currency"], pricing_unknown=bool(m["pricing_unknown"]),
        status=m["status"], status_code=m["status_code"], latency_ms=m["latency_ms"], streamed=bool(m["streamed"]),
        cache_tier=m["cache_tier"], selection_source=m["selection_source"], error_message=m["error_message"],
        metadata=dict(m["metadata"] or {}), created_at=m["created_at"])


def description(r: UsageRecord) -> str:
    return f"{r.provider}:{r.model} {r.endpoint}".strip()


ID_CHUNK = 1000  # ids per `IN (...)` lookup: far below every database's parameter limit


def store(conn: Connection, records: Sequence[UsageRecord]) -> None:
    """The ledger write of one batch inside the caller's transaction: skip ids already stored,
    insert the rest, deduct charged costs (one UPDATE per organization), advance key budgets and
    last-used times. Synchronous, so the same code runs in the SQLite write thread and, through
    `run_sync`, on the async engine of PostgreSQL and MySQL."""
    unique = list({r.id: r for r in records}.values())
    ids = [r.id for r in unique]
    stored: set[str] = set()
    for at in range(0, len(ids), ID_CHUNK):
        stored.update(conn.execute(select(usage.c.id).where(usage.c.id.in_(ids[at:at + ID_CHUNK]))).scalars())
    fresh = [r for r in unique if r.id not in stored]
    if not fresh:
        return
    insert_rows(conn, usage, [_row(r) for r in fresh])
    _charge(conn, fresh)
    _touch_keys(conn, fresh)


def _charge(conn: Connection, records: list[UsageRecord]) -> None:
    by_org: dict[str, list[UsageRecord]] = defaultdict(list)
    for r in records:
        if r.charge_credits and r.organization_id is not None and r.cost > 0:
            by_org[r.organization_id].append(r)
    rows = []
    for org in sorted(by_org):  # a fixed lock order: concurrent writers cannot deadlock
        charged = by_org[org]
        total = sum(to_units(r.cost) for r in charged)
        running = change_balance_sync(conn, org, -total, used=total) + total
        for r in charged:
            running -= to_units(r.cost)
            rows.append({"organization_id": org, "type": "usage", "amount": -to_units(r.cost),
                         "balance_after": running, "description": description(r), "metadata": {},
                         "api_key_id": r.api_key_id, "api_usage_id": r.id, "created_at": r.created_at})
    insert_rows(conn, credit_transactions, rows)


def _touch_keys(conn: Connection, records: list[UsageRecord]) -> None:
    last_used: dict[int, datetime] = {}
    spend: dict[tuple[int, datetime], int] = defaultdict(int)
    for r in records:
        if r.api_key_id is None:
            continue
        if r.api_key_id not in last_used or r.created_at > last_used[r.api_key_id]:
            last_used[r.api_key_id] = r.created_at
        if r.budget_period_start is not None and r.cost > 0:
            spend[(r.api_key_id, r.budget_period_start)] += to_units(r.cost)
    for key_id in sorted(last_used):
        used_at = literal(last_used[key_id], UtcDateTime())
        values: dict[str, Any] = {"last_used_at": case(
            (api_keys.c.last_used_at.is_(None), used_at), (api_keys.c.last_used_at < used_at, used_at),
            else_=api_keys.c.last_used_at)}
        conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
        for (_, start), units in sorted((k, v) for k, v in spend.items() if k[0] == key_id):
            conn.execute(_budget_update(key_id, start, units))


class SqlUsageStore:
    """`write` is one transaction per batch: on the embedded SQLite file in its write thread
    (`adapters/sql/write_thread.py`), elsewhere on the async engine. `close` stops the thread."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        path = sqlite_file(engine)
        self._thread = WriteThread(path) if path is not None else None

    async def write(self, records: Sequence[UsageRecord]) -> None:
        if not records:
            return
        if self._thread is not None:
            await self._thread.run(functools.partial(store, records=records))
            return

        async def run(conn: AsyncConnection) -> None:
            await conn.run_sync(store, records)

        await in_transaction(self._engine, run)  # a deadlock victim (two instances) runs again

    def close(self) -> None:
        if self._thread is not None:
            self._thread.close()

    async def get(self, record_id: str) -> UsageRecord | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(usage).where(usage.c.id == record_id))).first()
        return record_from_row(row) if row is not None else None

    async def for_key(self, key_id: int, limit: int = 100, offset: int = 0) -> list[UsageRecord]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(usage).where(usage.c.api_key_id == key_id)
                .order_by(usage.c.created_at.desc(), usage.c.id.desc()).limit(limit).offset(offset))).all()
        return [record_from_row(r) for r in rows]

    async def stats_for_key(self, key_id: int, since: datetime | None = None) -> UsageStats:
        query = (select(usage.c.provider, usage.c.model, func.count(),
                        func.sum(case((usage.c.status != "success", 1), else_=0)),
                        func.sum(usage.c.input_tokens), func.sum(usage.c.output_tokens),
                        func.sum(usage.c.cached_tokens), func.sum(usage.c.reasoning_tokens), func.sum(usage.c.cost))
                 .where(usage.c.api_key_id == key_id).group_by(usage.c.provider, usage.c.model))
        if since is not None:
            query = query.where(usage.c.created_at >= since)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return UsageStats.from_models([
            ModelStats(provider=p, model=m, requests=int(n), errors=int(e or 0), input_tokens=int(i or 0),
                       output_tokens=int(o or 0), cached_tokens=int(c or 0), reasoning_tokens=int(rt or 0),
                       cost=from_units(int(cost or 0)))
            for p, m, n, e, i, o, c, rt, cost in rows])


def _budget_update(key_id: int, start: datetime, units: int) -> Any:
    """Add spend to the key's budget for the period starting at `start`; an older stored period
    restarts at this spend, a newer one (a late record of a past period) is left alone."""
    ps = bindparam("ps", start, type_=UtcDateTime())
    amount: Any = bindparam("amount", units)
    stored = api_keys.c.budget_period_start
    older = (stored.is_(None)) | (stored < ps)
    return (update(api_keys).where(api_keys.c.id == key_id).values(
        budget_used=case((older, amount), (stored == ps, api_keys.c.budget_used + amount),
                         else_=api_keys.c.budget_used),
        budget_period_start=case((older, ps), else_=stored)))
