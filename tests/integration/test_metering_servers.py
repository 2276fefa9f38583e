"""The metering stores on a real PostgreSQL and a real MariaDB: the shared contract suites, plus
what only a server with several clients can show — concurrent deductions from two "instances" (engines),
concurrent writers of the same usage records, and concurrent migrations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from adapters.sql.credits import SqlCreditLedger
from adapters.sql.engine import create_engine
from adapters.sql.migrate import VERSION_TABLE, current_revision, head_revision, upgrade
from adapters.sql.models import Base
from adapters.sql.usage import SqlUsageStore
from adapters.sql.usage_writer import BatchedUsageWriter
from domain.credits import Grant
from tests.adapters.metering_contract import *  # noqa: F403 - the shared contract tests
from tests.adapters.metering_contract import Stores, sql_stores, usage

pytestmark = pytest.mark.integration
TABLES = "api_keys, api_key_usage, organization_credits, credit_transactions"


@pytest.fixture(params=["postgres", "mariadb"])
def server_url(request: pytest.FixtureRequest) -> str:
    """The URL of this run's own database on each SQL server (fixtures in tests/conftest.py)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
async def stores(server_url: str) -> AsyncIterator[Stores]:
    bundle = await sql_stores(server_url)
    async with bundle.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY"))
        else:  # MySQL/MariaDB: one table per TRUNCATE, which also resets AUTO_INCREMENT
            for table in TABLES.split(", "):
                await conn.execute(text(f"TRUNCATE TABLE {table}"))
    yield bundle
    await bundle.close()


async def test_migrations_run_concurrently_and_reach_head(server_url: str) -> None:
    engines = [create_engine(server_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_migrations_create_exactly_the_models(stores: Stores) -> None:
    def diff(conn: object) -> list[object]:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE,  # type: ignore[arg-type]
                                                         "compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with stores.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_hundreds_of_deductions_from_two_instances_leave_an_exact_balance(stores: Stores) -> None:
    second = create_engine(stores.url)
    try:
        ledgers = [stores.ledger, SqlCreditLedger(second)]
        await stores.ledger.grant(Grant("acme", Decimal(50), "purchase"))
        amount = Decimal("0.0173205081")
        await asyncio.gather(*(ledgers[i % 2].deduct("acme", amount, api_usage_id=f"d{i}") for i in range(400)))
        balance = await stores.ledger.balance("acme")
        assert balance.balance == Decimal(50) - 400 * amount
        assert balance.total_used == 400 * amount and balance.total_purchased == Decimal(50)
        txs = await stores.ledger.transactions("acme", limit=500)
        assert sorted(t.balance_after for t in txs if t.type == "usage") == sorted(
            Decimal(50) - n * amount for n in range(1, 401))
    finally:
        await second.dispose()


async def test_charged_usage_from_two_writers_is_deducted_exactly_once(stores: Stores, tmp_path: Path) -> None:
    second = create_engine(stores.url)
    try:
        await stores.ledger.grant(Grant("acme", Decimal(10), "promotional"))
        records = [usage(i, api_key_id=1, organization_id="acme", cost=Decimal("0.01"), charge_credits=True)
                   for i in range(300)]
        writers = [BatchedUsageWriter(SqlUsageStore(engine), tmp_path / f"spill-{n}.jsonl", batch_size=50)
                   for n, engine in enumerate((stores.engine, second))]
        for writer in writers:  # both hold every record, as after a replayed spill file
            for record in records:
                writer.submit(record)
        for _ in range(5):
            results = await asyncio.gather(*(w.flush() for w in writers))
            if all(results):
                break
        assert all(results)
        balance = await stores.ledger.balance("acme")
        assert balance.balance == Decimal(7) and balance.total_used == Decimal(3)
        async with stores.engine.connect() as conn:
            count = (await conn.execute(text("SELECT count(*) FROM api_key_usage"))).scalar_one()
            charges = (await conn.execute(text("SELECT count(*) FROM credit_transactions WHERE type='usage'")))
            assert (count, charges.scalar_one()) == (300, 300)
    finally:
        await second.dispose()


async def test_concurrent_grants_with_one_payment_id_add_credits_once(stores: Stores) -> None:
    results = await asyncio.gather(*(stores.ledger.grant(Grant("acme", Decimal(5), "purchase",
                                                               idempotency_key="payment:pi_same"))
                                     for _ in range(20)))
    assert sum(applied for _, applied in results) == 1
    assert (await stores.ledger.balance("acme")).balance == Decimal(5)
