"""API keys in SQL."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.models import api_keys
from adapters.sql.sqlite_reads import SqliteReader
from domain.credits import from_units, to_units
from domain.keys import ApiKey

_MONEY = ("budget_limit", "budget_used")
_WRITABLE = frozenset(c.key for c in api_keys.c) - {"id", "key_hash"}


def _column_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name not in _WRITABLE:
            raise ValueError(f"cannot change {name!r}")
        if name in _MONEY and value is not None:
            value = to_units(Decimal(value))
        values[name] = value
    return values


def key_from_row(row: Row[Any] | Mapping[str, Any]) -> ApiKey:
    m = row._mapping if isinstance(row, Row) else row
    return ApiKey(
        id=int(m["id"]), name=m["name"], key_hash=m["key_hash"], key_prefix=m["key_prefix"],
        organization_id=m["organization_id"], rate_limit_rpm=m["rate_limit_rpm"],
        budget_limit=None if m["budget_limit"] is None else from_units(m["budget_limit"]),
        budget_period=m["budget_period"], budget_used=from_units(m["budget_used"] or 0),
        budget_period_start=m["budget_period_start"], expires_at=m["expires_at"], is_active=bool(m["is_active"]),
        revoked_at=m["revoked_at"], created_at=m["created_at"], updated_at=m["updated_at"],
        last_used_at=m["last_used_at"], metadata=dict(m["metadata"] or {}))


class SqlApiKeyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = SqliteReader.for_engine(engine)

    async def create(self, key: ApiKey) -> ApiKey:
        values = _column_values({
            "name": key.name, "key_prefix": key.key_prefix, "organization_id": key.organization_id,
            "rate_limit_rpm": key.rate_limit_rpm, "budget_limit": key.budget_limit,
            "budget_period": key.budget_period, "budget_used": key.budget_used,
            "budget_period_start": key.budget_period_start, "expires_at": key.expires_at,
            "is_active": key.is_active, "revoked_at": key.revoked_at, "created_at": key.created_at,
            "updated_at": key.updated_at, "last_used_at": key.last_used_at, "metadata": key.metadata})
        values["key_hash"] = key.key_hash
        async with self._engine.begin() as conn:
            result = await conn.execute(insert(api_keys).values(**values))
            key_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).one()
        return key_from_row(row)

    async def get(self, key_id: int) -> ApiKey | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return key_from_row(row) if row is not None else None

    async def find_by_hash(self, key_hash: str) -> ApiKey | None:
        if self._reader is not None:  # the request path's read: synchronous on embedded SQLite
            found = self._reader.one(api_keys, api_keys.c.key_hash, key_hash)
            return key_from_row(found) if found is not None else None
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(api_keys).where(api_keys.c.key_hash == key_hash))).first()
        return key_from_row(row) if row is not None else None

    async def list(self, organization_id: str | None = None, include_inactive: bool = True,
                   limit: int = 100, offset: int = 0) -> list[ApiKey]:
        query = select(api_keys)
        if organization_id is not None:
            query = query.where(api_keys.c.organization_id == organization_id)
        if not include_inactive:
            query = query.where(api_keys.c.is_active.is_(True), api_keys.c.revoked_at.is_(None))
        query = query.order_by(api_keys.c.id.desc()).limit(limit).offset(offset)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [key_from_row(r) for r in rows]

    async def update(self, key_id: int, changes: Mapping[str, Any]) -> ApiKey | None:
        values = _column_values(changes)
        async with self._engine.begin() as conn:
            if values:
                await conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(**values))
            row = (await conn.execute(select(api_keys).where(api_keys.c.id == key_id))).first()
        return key_from_row(row) if row is not None else None

    async def delete(self, key_id: int) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(api_keys).where(api_keys.c.id == key_id))
        return bool(result.rowcount)
