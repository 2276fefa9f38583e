"""Credit balances and transactions in SQL.

Every balance change is a single `UPDATE ... SET balance = balance + :delta` (the database's row
lock makes concurrent changes from any number of instances serialize; nothing is read and
written back from Python), followed in the same transaction by the transaction row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.sql.engine import in_transaction
from adapters.sql.models import credit_transactions, org_credits
from adapters.sql.sqlite_reads import SqliteReader
from domain.credits import CreditBalance, CreditTransaction, Grant, from_units, to_units, valid_grant


def now_utc() -> datetime:
    return datetime.now(UTC)


def change_balance_sync(conn: Connection, organization_id: str, delta: int, *, purchased: int = 0,
                        used: int = 0, now: datetime | None = None) -> int:
    """Apply `delta` units atomically (creating the account if needed); the balance after it.

    Synchronous: it runs in the embedded SQLite file's write thread and, through `run_sync`, on
    the async engine (`change_balance`)."""
    now = now or now_utc()
    stmt = (update(org_credits).where(org_credits.c.organization_id == organization_id)
            .values(balance=org_credits.c.balance + delta,
                    total_purchased=org_credits.c.total_purchased + purchased,
                    total_used=org_credits.c.total_used + used, updated_at=now))
    for _ in range(3):
        after = _update(conn, stmt, organization_id)
        if after is not None:
            return after
        try:
            with conn.begin_nested():
                conn.execute(insert(org_credits).values(
                    organization_id=organization_id, balance=delta, total_purchased=purchased, total_used=used,
                    created_at=now, updated_at=now))
            return delta
        except IntegrityError:  # another transaction created the account first: update it instead
            continue
    raise RuntimeError(f"could not create the credit account of {organization_id!r}")


async def change_balance(conn: AsyncConnection, organization_id: str, delta: int, *, purchased: int = 0,
                         used: int = 0, now: datetime | None = None) -> int:
    """`change_balance_sync` on an async connection."""
    return await conn.run_sync(change_balance_sync, organization_id, delta, purchased=purchased, used=used, now=now)


def _update(conn: Connection, stmt: Any, organization_id: str) -> int | None:
    if conn.dialect.update_returning:
        row = conn.execute(stmt.returning(org_credits.c.balance)).first()
        return None if row is None else int(row[0])
    conn.execute(stmt)  # MySQL: the UPDATE holds the row lock, so this read is consistent
    row = conn.execute(select(org_credits.c.balance).where(org_credits.c.organization_id == organization_id)).first()
    return None if row is None else int(row[0])


def transaction_from_row(row: Row[Any]) -> CreditTransaction:
    m = row._mapping
    return CreditTransaction(
        id=int(m["id"]), organization_id=m["organization_id"], type=m["type"], amount=from_units(m["amount"]),
        balance_after=from_units(m["balance_after"]), description=m["description"] or "",
        metadata=dict(m["metadata"] or {}), created_at=m["created_at"], idempotency_key=m["idempotency_key"],
        stripe_payment_intent_id=m["stripe_payment_intent_id"],
        stripe_checkout_session_id=m["stripe_checkout_session_id"],
        api_key_id=m["api_key_id"], api_usage_id=m["api_usage_id"])


class SqlCreditLedger:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._reader = SqliteReader.for_engine(engine)

    async def balance(self, organization_id: str) -> CreditBalance:
        m: Mapping[str, Any] | None
        if self._reader is not None:  # the request path's read: synchronous on embedded SQLite
            m = self._reader.one(org_credits, org_credits.c.organization_id, organization_id)
        else:
            async with self._engine.connect() as conn:
                row = (await conn.execute(select(org_credits)
                                          .where(org_credits.c.organization_id == organization_id))).first()
            m = dict(row._mapping) if row is not None else None
        if m is None:
            return CreditBalance(organization_id)
        return CreditBalance(organization_id, balance=from_units(m["balance"]),
                             total_purchased=from_units(m["total_purchased"]), total_used=from_units(m["total_used"]),
                             updated_at=m["updated_at"])

    async def transactions(self, organization_id: str, limit: int = 50, offset: int = 0) -> list[CreditTransaction]:
        async with self._engine.connect() as conn:
            rows = (await conn.execute(
                select(credit_transactions).where(credit_transactions.c.organization_id == organization_id)
                .order_by(credit_transactions.c.id.desc()).limit(limit).offset(offset))).all()
        return [transaction_from_row(r) for r in rows]

    async def _by_idempotency(self, conn: AsyncConnection, key: str) -> CreditTransaction | None:
        row = (await conn.execute(select(credit_transactions)
                                  .where(credit_transactions.c.idempotency_key == key))).first()
        return transaction_from_row(row) if row is not None else None

    async def grant(self, grant: Grant) -> tuple[CreditTransaction, bool]:
        valid_grant(grant.amount)
        if grant.idempotency_key is not None:
            async with self._engine.connect() as conn:
                earlier = await self._by_idempotency(conn, grant.idempotency_key)
            if earlier is not None:
                return earlier, False
        units = to_units(grant.amount)
        now = now_utc()

        async def apply(conn: AsyncConnection) -> tuple[int, int]:
            after = await change_balance(conn, grant.organization_id, units,
                                         purchased=units if grant.type == "purchase" else 0, now=now)
            values = dict(organization_id=grant.organization_id, type=grant.type, amount=units,
                          balance_after=after, description=grant.description, metadata=grant.metadata,
                          idempotency_key=grant.idempotency_key,
                          stripe_payment_intent_id=grant.stripe_payment_intent_id,
                          stripe_checkout_session_id=grant.stripe_checkout_session_id, created_at=now)
            result = await conn.execute(insert(credit_transactions).values(**values))
            return after, int(result.inserted_primary_key[0])  # type: ignore[index]

        try:
            after, new_id = await in_transaction(self._engine, apply)
        except IntegrityError:
            # The same idempotency key won a race with us: our balance change was rolled back.
            if grant.idempotency_key is None:
                raise
            async with self._engine.connect() as conn:
                earlier = await self._by_idempotency(conn, grant.idempotency_key)
            if earlier is None:
                raise
            return earlier, False
        return CreditTransaction(id=new_id, organization_id=grant.organization_id, type=grant.type,
                                 amount=grant.amount, balance_after=from_units(after),
                                 description=grant.description, metadata=dict(grant.metadata), created_at=now,
                                 idempotency_key=grant.idempotency_key,
                                 stripe_payment_intent_id=grant.stripe_payment_intent_id,
                                 stripe_checkout_session_id=grant.stripe_checkout_session_id), True

    async def deduct(self, organization_id: str, amount: Decimal, *, api_key_id: int | None = None,
                     api_usage_id: str | None = None, description: str = "") -> CreditTransaction:
        if amount < 0:
            raise ValueError("a deduction must not be negative")
        units = to_units(amount)
        now = now_utc()

        async def apply(conn: AsyncConnection) -> tuple[int, int]:
            after = await change_balance(conn, organization_id, -units, used=units, now=now)
            result = await conn.execute(insert(credit_transactions).values(
                organization_id=organization_id, type="usage", amount=-units, balance_after=after,
                description=description, metadata={}, api_key_id=api_key_id, api_usage_id=api_usage_id,
                created_at=now))
            return after, int(result.inserted_primary_key[0])  # type: ignore[index]

        after, new_id = await in_transaction(self._engine, apply)
        return CreditTransaction(id=new_id, organization_id=organization_id, type="usage", amount=-amount,
                                 balance_after=from_units(after), description=description, created_at=now,
                                 api_key_id=api_key_id, api_usage_id=api_usage_id)
