"""Contract suites for ApiKeyStore, UsageSink/UsageReader and CreditLedger.

Not collected by itself: `test_metering_contracts.py` runs it on the in-memory and SQLite
adapters, `tests/integration/test_metering_servers.py` on a real PostgreSQL and MariaDB. Each module
provides a `stores` fixture returning a `Stores`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.memory.credits import InMemoryCreditLedger
from adapters.memory.keys import InMemoryApiKeyStore
from adapters.memory.usage import InMemoryUsageStore
from adapters.sql.credits import SqlCreditLedger
from adapters.sql.engine import create_engine
from adapters.sql.keys import SqlApiKeyStore
from adapters.sql.migrate import upgrade
from adapters.sql.usage import SqlUsageStore
from domain.credits import Grant
from domain.keys import ApiKey, generate_key, hash_key, period_start
from domain.usage import UsageRecord

T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


@dataclass
class Stores:
    keys: Any
    usage: Any
    ledger: Any
    engine: Any = None
    url: str = ""

    async def close(self) -> None:
        close = getattr(self.usage, "close", None)
        if close is not None:
            close()  # the SQLite store's write thread
        if self.engine is not None:
            await self.engine.dispose()


def memory_stores() -> Stores:
    keys, ledger = InMemoryApiKeyStore(), InMemoryCreditLedger()
    return Stores(keys=keys, usage=InMemoryUsageStore(ledger, keys), ledger=ledger)


async def sql_stores(url: str) -> Stores:
    engine = create_engine(url)
    await upgrade(engine)
    return Stores(keys=SqlApiKeyStore(engine), usage=SqlUsageStore(engine), ledger=SqlCreditLedger(engine),
                  engine=engine, url=url)


def new_key(**fields: Any) -> ApiKey:
    plaintext = generate_key()
    fields.setdefault("name", "k")
    return ApiKey(id=0, key_hash=hash_key(plaintext), key_prefix=plaintext[:12], created_at=T0, updated_at=T0,
                  **fields)


def usage(i: int, **fields: Any) -> UsageRecord:
    fields.setdefault("created_at", T0)
    fields.setdefault("provider", "up")
    fields.setdefault("model", "m")
    return UsageRecord(id=f"u{i:07}", request_id=f"req-{i}", endpoint="/v1/chat/completions", **fields)


# --- ApiKeyStore ----------------------------------------------------------------------------------


async def test_keys_round_trip_by_id_and_hash(stores: Stores) -> None:
    key = await stores.keys.create(new_key(organization_id="acme", rate_limit_rpm=5, budget_limit=Decimal("2.5"),
                                           budget_period="weekly", expires_at=T0 + timedelta(days=1),
                                           metadata={"team": "ml", "n": 1}))
    assert key.id > 0
    again = await stores.keys.find_by_hash(key.key_hash)
    assert again == key == await stores.keys.get(key.id)
    assert key.budget_limit == Decimal("2.5") and key.expires_at == T0 + timedelta(days=1)
    assert key.metadata == {"team": "ml", "n": 1} and key.created_at == T0
    assert await stores.keys.get(key.id + 1000) is None
    assert await stores.keys.find_by_hash("0" * 64) is None


async def test_keys_list_filters_and_pages_newest_first(stores: Stores) -> None:
    a = await stores.keys.create(new_key(name="a", organization_id="o1"))
    b = await stores.keys.create(new_key(name="b", organization_id="o2"))
    c = await stores.keys.create(new_key(name="c", organization_id="o1", is_active=False))
    assert [k.id for k in await stores.keys.list()] == [c.id, b.id, a.id]
    assert [k.id for k in await stores.keys.list("o1")] == [c.id, a.id]
    assert [k.id for k in await stores.keys.list("o1", include_inactive=False)] == [a.id]
    assert [k.id for k in await stores.keys.list(limit=1, offset=1)] == [b.id]


async def test_keys_update_and_delete(stores: Stores) -> None:
    key = await stores.keys.create(new_key())
    later = T0 + timedelta(hours=1)
    updated = await stores.keys.update(key.id, {"name": "renamed", "budget_limit": Decimal("0.0000000001"),
                                                "revoked_at": later, "is_active": False, "metadata": {"x": [1]},
                                                "rate_limit_rpm": None, "updated_at": later})
    assert updated is not None and updated.name == "renamed" and updated.revoked_at == later
    assert updated.budget_limit == Decimal("0.0000000001") and updated.metadata == {"x": [1]}
    assert updated.state(later) == "revoked"
    assert await stores.keys.update(key.id + 1000, {"name": "x"}) is None
    with pytest.raises(ValueError):
        await stores.keys.update(key.id, {"key_hash": "x"})
    assert await stores.keys.delete(key.id)
    assert not await stores.keys.delete(key.id)
    assert await stores.keys.get(key.id) is None


# --- CreditLedger ---------------------------------------------------------------------------------


async def test_an_unknown_organization_has_a_zero_balance(stores: Stores) -> None:
    balance = await stores.ledger.balance("nobody")
    assert (balance.balance, balance.total_purchased, balance.total_used) == (0, 0, 0)
    assert await stores.ledger.transactions("nobody") == []


async def test_grants_add_credits_once_per_idempotency_key(stores: Stores) -> None:
    first, applied = await stores.ledger.grant(Grant("acme", Decimal("10"), "purchase", "buy",
                                                     idempotency_key="payment:pi_1",
                                                     stripe_payment_intent_id="pi_1"))
    again, applied_again = await stores.ledger.grant(Grant("acme", Decimal("10"), "purchase",
                                                           idempotency_key="payment:pi_1"))
    assert applied and not applied_again and again.id == first.id
    await stores.ledger.grant(Grant("acme", Decimal("2.5"), "promotional", metadata={"why": "welcome"}))
    balance = await stores.ledger.balance("acme")
    assert (balance.balance, balance.total_purchased) == (Decimal("12.5"), Decimal(10))
    txs = await stores.ledger.transactions("acme")
    assert [(t.type, t.amount, t.balance_after) for t in txs] == [
        ("promotional", Decimal("2.5"), Decimal("12.5")), ("purchase", Decimal(10), Decimal(10))]
    assert txs[1].stripe_payment_intent_id == "pi_1" and txs[0].metadata == {"why": "welcome"}
    with pytest.raises(ValueError):
        await stores.ledger.grant(Grant("acme", Decimal(0), "refund"))


async def test_deductions_may_end_below_zero_and_are_paged(stores: Stores) -> None:
    await stores.ledger.grant(Grant("acme", Decimal("0.01"), "promotional"))
    tx = await stores.ledger.deduct("acme", Decimal("0.03"), api_key_id=4, api_usage_id="x1", description="d")
    assert tx.amount == Decimal("-0.03") and tx.balance_after == Decimal("-0.02") and tx.type == "usage"
    balance = await stores.ledger.balance("acme")
    assert balance.balance == Decimal("-0.02") and balance.total_used == Decimal("0.03")
    with pytest.raises(Exception):  # noqa: B017 - one charge per usage record, whatever the store's error type
        await stores.ledger.deduct("acme", Decimal("0.01"), api_usage_id="x1")
    assert [t.type for t in await stores.ledger.transactions("acme", limit=1)] == ["usage"]
    assert [t.type for t in await stores.ledger.transactions("acme", limit=1, offset=1)] == ["promotional"]


async def test_concurrent_deductions_lose_nothing(stores: Stores) -> None:
    await stores.ledger.grant(Grant("acme", Decimal(100), "promotional"))
    amount = Decimal("0.0123456789")
    await asyncio.gather(*(stores.ledger.deduct("acme", amount, api_usage_id=f"c{i}") for i in range(200)))
    balance = await stores.ledger.balance("acme")
    assert balance.balance == Decimal(100) - 200 * amount
    assert balance.total_used == 200 * amount
    afters = sorted(t.balance_after for t in await stores.ledger.transactions("acme", limit=500) if t.type == "usage")
    assert afters == sorted(Decimal(100) - n * amount for n in range(1, 201))


# --- UsageSink / UsageReader ----------------------------------------------------------------------


async def test_usage_is_written_once_per_id_and_read_back(stores: Stores) -> None:
    record = usage(1, api_key_id=9, organization_id="acme", input_tokens=10, output_tokens=5, cached_tokens=2,
                   cache_write_tokens=1, reasoning_tokens=3, cost=Decimal("0.0000123"), status="error",
                   status_code=502, latency_ms=12, streamed=True, cache_tier="exact", selection_source="router",
                   error_message="boom", metadata={"project": "p"}, pricing_unknown=True,
                   created_at=T0 + timedelta(microseconds=123456))  # sub-second times survive (MySQL: DATETIME(6))
    await stores.usage.write([record, record])
    await stores.usage.write([record])
    stored = await stores.usage.get(record.id)
    assert stored is not None
    for name in ("request_id", "api_key_id", "organization_id", "input_tokens", "output_tokens", "cached_tokens",
                 "cache_write_tokens", "reasoning_tokens", "cost", "status", "status_code", "latency_ms",
                 "streamed", "cache_tier", "selection_source", "error_message", "metadata", "created_at",
                 "pricing_unknown", "endpoint", "provider", "model", "currency"):
        assert getattr(stored, name) == getattr(record, name), name
    assert [r.id for r in await stores.usage.for_key(9)] == [record.id]


async def test_usage_pages_newest_first_and_aggregates_by_model(stores: Stores) -> None:
    records = [usage(i, api_key_id=1, created_at=T0 + timedelta(minutes=i), input_tokens=10, output_tokens=1,
                     cost=Decimal("0.5"), model="a" if i % 2 else "b", status="success" if i else "error")
               for i in range(5)]
    await stores.usage.write([*records, usage(99, api_key_id=2, cost=Decimal(7))])
    page = await stores.usage.for_key(1, limit=2, offset=1)
    assert [r.id for r in page] == [records[3].id, records[2].id]
    stats = await stores.usage.stats_for_key(1)
    assert (stats.requests, stats.errors, stats.input_tokens, stats.cost) == (5, 1, 50, Decimal("2.5"))
    assert [(m.model, m.requests) for m in stats.by_model] == [("a", 2), ("b", 3)]
    recent = await stores.usage.stats_for_key(1, since=T0 + timedelta(minutes=3))
    assert recent.requests == 2


async def test_charged_usage_is_deducted_once_and_linked_to_its_record(stores: Stores) -> None:
    await stores.ledger.grant(Grant("acme", Decimal(1), "promotional"))
    charged = [usage(i, api_key_id=3, organization_id="acme", cost=Decimal("0.25"), charge_credits=True)
               for i in range(3)]
    free = usage(9, api_key_id=3, organization_id="acme", cost=Decimal("0.25"))
    await stores.usage.write([*charged, free])
    await stores.usage.write(charged)  # a retried batch
    balance = await stores.ledger.balance("acme")
    assert balance.balance == Decimal("0.25") and balance.total_used == Decimal("0.75")
    txs = [t for t in await stores.ledger.transactions("acme") if t.type == "usage"]
    assert sorted(t.api_usage_id for t in txs) == sorted(r.id for r in charged)
    assert sorted(t.balance_after for t in txs) == [Decimal("0.25"), Decimal("0.5"), Decimal("0.75")]
    assert all(t.api_key_id == 3 and t.amount == Decimal("-0.25") for t in txs)


async def test_usage_advances_the_key_budget_and_last_use(stores: Stores) -> None:
    key = await stores.keys.create(new_key(budget_limit=Decimal(1), budget_period="daily"))
    day1, day2 = period_start("daily", T0), period_start("daily", T0 + timedelta(days=1))
    await stores.usage.write([usage(1, api_key_id=key.id, cost=Decimal("0.4"), budget_period_start=day1),
                              usage(2, api_key_id=key.id, cost=Decimal("0.4"), budget_period_start=day1,
                                    created_at=T0 + timedelta(minutes=5))])
    after = await stores.keys.get(key.id)
    assert after.budget_used == Decimal("0.8") and after.budget_period_start == day1
    assert after.last_used_at == T0 + timedelta(minutes=5)
    await stores.usage.write([usage(3, api_key_id=key.id, cost=Decimal("0.1"), budget_period_start=day2,
                                    created_at=T0 + timedelta(days=1))])
    await stores.usage.write([usage(4, api_key_id=key.id, cost=Decimal("0.3"), budget_period_start=day1)])  # late
    rolled = await stores.keys.get(key.id)
    assert rolled.budget_used == Decimal("0.1") and rolled.budget_period_start == day2
    assert rolled.last_used_at == T0 + timedelta(days=1)


async def test_usage_of_a_deleted_key_is_still_written(stores: Stores) -> None:
    key = await stores.keys.create(new_key())
    await stores.keys.delete(key.id)
    await stores.usage.write([usage(1, api_key_id=key.id, cost=Decimal(1), budget_period_start=T0)])
    assert await stores.usage.get(usage(1).id) is not None


async def test_a_batch_of_thousands_is_written_once_with_exact_credits_and_budgets(stores: Stores) -> None:
    key = await stores.keys.create(new_key(organization_id="acme", budget_limit=Decimal(100), budget_period="daily"))
    await stores.ledger.grant(Grant("acme", Decimal(10), "promotional"))
    await stores.ledger.grant(Grant("beta", Decimal(10), "promotional"))
    day = period_start("daily", T0)
    amount = Decimal("0.0001234567")
    records = [usage(i, api_key_id=key.id, organization_id="acme" if i % 3 else "beta", cost=amount,
                     charge_credits=True, budget_period_start=day, created_at=T0 + timedelta(microseconds=i),
                     metadata={"n": i} if i % 2 else {})
               for i in range(3_000)]
    await stores.usage.write(records)
    await stores.usage.write(records[1_000:2_000])  # a retried part of it: nothing twice
    acme, beta = sum(1 for i in range(3_000) if i % 3), sum(1 for i in range(3_000) if not i % 3)
    assert (await stores.ledger.balance("acme")).balance == Decimal(10) - acme * amount
    assert (await stores.ledger.balance("beta")).balance == Decimal(10) - beta * amount
    txs = [t for t in await stores.ledger.transactions("beta", limit=5_000) if t.type == "usage"]
    assert len(txs) == beta and len({t.api_usage_id for t in txs}) == beta
    assert sorted(t.balance_after for t in txs) == sorted(Decimal(10) - n * amount for n in range(1, beta + 1))
    after = await stores.keys.get(key.id)
    assert after.budget_used == 3_000 * amount and after.last_used_at == T0 + timedelta(microseconds=2_999)
    stats = await stores.usage.stats_for_key(key.id)
    assert stats.requests == 3_000 and stats.cost == 3_000 * amount
    again = await stores.usage.get(records[2_999].id)
    assert again is not None and again.metadata == {"n": 2_999} and again.created_at == records[2_999].created_at
