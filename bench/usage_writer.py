"""Raw throughput of the usage writer: records/s from a backlog into the ledger.

`--records` charged usage records (API key, organization, credits deducted, key budget
advanced) are handed to a `BatchedUsageWriter` in front of `SqlUsageStore`, as the gateway
builds it with the default `usage` settings, and the writer is flushed until every record is
stored. The figure: records / wall time of the flushes. Each database gets a fresh schema
(SQLite: a temporary file; PostgreSQL and MariaDB: a database created for the run and dropped
after it). After the run the rows and the balance are checked: one row per record, the balance
exact to the unit.

`--compare DIR`: run the same measurement against the code in DIR too (e.g. the main worktree)
and print both side by side, each backend measured before/after in turn.

Usage: .venv/bin/python bench/usage_writer.py [--records 20000] [--backends sqlite,postgres,mariadb]
       PYTHONPATH=$PWD .venv/bin/python bench/usage_writer.py --compare /work/main
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

SERVERS = {"postgres": "postgresql://postgres@127.0.0.1:5432/test", "mariadb": "mysql://root@127.0.0.1:3306/test"}
COST = Decimal("0.0000210000")
ORGS = 4


async def _admin(backend: str, statement: str) -> None:
    if backend == "postgres":
        import asyncpg

        conn = await asyncpg.connect("postgresql://postgres@127.0.0.1:5432/test")
        try:
            await conn.execute(statement)
        finally:
            await conn.close()
    else:
        import pymysql

        conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database="test")
        try:
            with conn.cursor() as cursor:
                cursor.execute(statement)
        finally:
            conn.close()


def _writer_options(writer_class: Any) -> dict[str, Any]:
    """The gateway's default `usage` settings, as far as this version of the writer takes them."""
    from application.settings import UsageSettings

    defaults = UsageSettings()
    accepted = inspect.signature(writer_class).parameters
    options = {name: getattr(defaults, name) for name in ("queue_size", "batch_size", "max_batch_size")
               if name in accepted and hasattr(defaults, name)}
    options["queue_size"] = 10**9  # the backlog is held in memory: the measure is the store, not the spill file
    options["flush_interval_s"] = defaults.flush_interval_ms / 1000
    return options


async def measure(backend: str, records: int, folder: Path) -> dict[str, Any]:
    from sqlalchemy import func, select

    from adapters.sql.credits import SqlCreditLedger
    from adapters.sql.engine import create_engine
    from adapters.sql.migrate import upgrade
    from adapters.sql.models import usage as usage_table
    from adapters.sql.usage import SqlUsageStore
    from adapters.sql.usage_writer import BatchedUsageWriter
    from domain.credits import Grant
    from domain.usage import UsageRecord

    name = f"bench_writer_{os.getpid()}"
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'writer.db'}"
    else:
        await _admin(backend, f'CREATE DATABASE "{name}"' if backend == "postgres" else f"CREATE DATABASE `{name}`")
        url = SERVERS[backend].rsplit("/", 1)[0] + "/" + name
    engine = create_engine(url)
    store = SqlUsageStore(engine)
    try:
        await upgrade(engine)
        ledger = SqlCreditLedger(engine)
        for org in range(ORGS):
            await ledger.grant(Grant(f"org{org}", Decimal(1000), "promotional"))
        now = datetime.now(UTC)
        batch = [UsageRecord(id=f"{i:032x}", request_id=f"req-{i}", endpoint="/v1/chat/completions",
                             api_key_id=1 + i % ORGS, organization_id=f"org{i % ORGS}", provider="fake",
                             model="fake-small", input_tokens=5, output_tokens=8, cost=COST, status="success",
                             status_code=200, latency_ms=3, created_at=now, charge_credits=True,
                             budget_period_start=now.replace(hour=0, minute=0, second=0, microsecond=0))
                 for i in range(records)]
        writer = BatchedUsageWriter(store, folder / f"{backend}-spill.jsonl", **_writer_options(BatchedUsageWriter))
        for record in batch:
            writer.submit(record)
        started = time.perf_counter()
        while writer.written < records:
            if not await writer.flush():
                raise RuntimeError(f"{backend}: a write failed: {writer.stats()}")
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            rows = (await conn.execute(select(func.count()).select_from(usage_table))).scalar_one()
        balances = [(await ledger.balance(f"org{org}")).balance for org in range(ORGS)]
        per_org = records // ORGS
        exact = rows == records and all(b == Decimal(1000) - per_org * COST for b in balances)
        return {"backend": backend, "records": records, "seconds": round(elapsed, 3),
                "records_per_s": round(records / elapsed), "exact": exact}
    finally:
        close = getattr(store, "close", None)
        if close is not None:
            result = close()
            if inspect.isawaitable(result):
                await result
        await engine.dispose()
        if backend != "sqlite":
            await _admin(backend, f'DROP DATABASE "{name}"' if backend == "postgres" else f"DROP DATABASE `{name}`")


def run_in(tree: str, backend: str, records: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": tree}
    out = subprocess.run([sys.executable, __file__, "--json", "--records", str(records), "--backends", backend],
                         env=env, cwd=tree, check=True, capture_output=True, text=True).stdout
    return dict(orjson.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--backends", default="sqlite,postgres,mariadb")
    parser.add_argument("--compare", default="", help="another source tree to measure first (before)")
    parser.add_argument("--json", action="store_true", help="one JSON line per backend")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    if args.compare:
        here = str(Path(__file__).resolve().parents[1])
        print(f"| database | before ({args.compare}) rec/s | after ({here}) rec/s | exact before/after |")
        print("|---|---|---|---|")
        for backend in backends:
            before, after = run_in(args.compare, backend, args.records), run_in(here, backend, args.records)
            print(f"| {backend} | {before['records_per_s']:,} | {after['records_per_s']:,} | "
                  f"{before['exact']}/{after['exact']} |", flush=True)
        return
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(measure(backend, args.records, Path(tmp)))
        print(orjson.dumps(result).decode() if args.json else
              f"{backend}: {result['records']:,} records in {result['seconds']} s = "
              f"{result['records_per_s']:,} records/s (rows and balances exact: {result['exact']})", flush=True)


if __name__ == "__main__":
    main()
