"""The ClickHouse usage export against a real clickhouse-server (Debian's 18.16 package): table
creation, exact values, duplicates collapsing, and ClickHouse down then back while the SQL ledger
keeps writing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx2
import orjson
import pytest

from adapters.analytics.clickhouse import ClickHouseUsageSink
from adapters.analytics.lifecycle import after_ledger_write, clickhouse_exporter
from adapters.sql.usage_writer import BatchedUsageWriter
from application.settings import Settings
from tests.adapters.metering_contract import T0, Stores, sql_stores, usage
from tests.conftest import _unavailable
from tests.integration.clickhouse_server import ClickHouseServer, binary

pytestmark = pytest.mark.integration


def _server(root: Path) -> ClickHouseServer:
    executable = binary()
    if executable is None:
        _unavailable("no clickhouse-server binary (apt-get install clickhouse-server, or set CLICKHOUSE_SERVER)")
    assert executable is not None
    return ClickHouseServer(root, executable)


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    server = _server(tmp_path_factory.mktemp("clickhouse"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient() as http:
        yield http


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[Stores]:
    bundle = await sql_stores(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield bundle
    await bundle.close()


def rows(server: ClickHouseServer, table: str, final: bool = True) -> list[dict[str, object]]:
    text = server.query(f"SELECT *, toString(cost) AS cost_text FROM default.{table} {'FINAL' if final else ''} "
                        "ORDER BY id FORMAT JSONEachRow")
    return [orjson.loads(line) for line in text.splitlines() if line]


async def test_records_arrive_exactly_and_duplicates_collapse(clickhouse: ClickHouseServer,
                                                              client: httpx2.AsyncClient) -> None:
    sink = ClickHouseUsageSink(client, clickhouse.url, table="exact_values")
    assert (await sink.query("SELECT version()")).strip().startswith("18.16")
    await sink.create_table()
    await sink.create_table()  # idempotent
    record = usage(1, api_key_id=9, organization_id="acme", input_tokens=10, output_tokens=5, cached_tokens=2,
                   cost=Decimal("0.0000000123"), status="error", status_code=502, streamed=True,
                   error_message='bad "quote"\n', metadata={"project": "p", "n": 1},
                   created_at=T0 + timedelta(seconds=7, microseconds=5))
    plain = usage(2, created_at=T0)
    await sink.write([record, plain])
    await sink.write([record])  # a retried batch
    stored = rows(clickhouse, "exact_values")
    assert [r["id"] for r in stored] == [record.id, plain.id]
    first = stored[0]
    assert first["cost_text"] == "0.0000000123" and first["created_at"] == "2025-06-02 10:00:07"
    assert (first["api_key_id"], first["organization_id"], first["status_code"], first["streamed"]) == (
        "9", "acme", 502, 1)
    assert first["error_message"] == 'bad "quote"\n'
    assert orjson.loads(str(first["metadata"])) == {"project": "p", "n": 1}
    assert (stored[1]["api_key_id"], stored[1]["organization_id"], stored[1]["error_message"]) == (None, None, None)


async def test_a_row_clickhouse_refuses_is_set_aside_and_the_rest_arrive(clickhouse: ClickHouseServer,
                                                                         client: httpx2.AsyncClient,
                                                                         tmp_path: Path) -> None:
    sink = ClickHouseUsageSink(client, clickhouse.url, table="refused_rows")
    writer = BatchedUsageWriter(sink, tmp_path / "ch-spill.jsonl", prepare=sink.create_table)
    for record in (usage(1), usage(2, input_tokens=-1), usage(3)):  # UInt32 refuses a negative count
        writer.submit(record)
    assert await writer.flush()
    assert [r["id"] for r in rows(clickhouse, "refused_rows")] == ["u0000001", "u0000003"]
    assert writer.rejected == 1 and (tmp_path / "ch-spill.jsonl.rejected").read_text().count("\n") == 1


async def test_clickhouse_down_never_blocks_the_ledger_and_loses_nothing(tmp_path: Path, ledger: Stores,
                                                                          client: httpx2.AsyncClient) -> None:
    server = _server(tmp_path / "ch")  # started only later: down first
    settings = Settings.model_validate({"usage": {"export": {"clickhouse": {
        "url": server.url, "table": "usage_down_then_up", "queue_size": 5, "batch_size": 4,
        "spill_path": str(tmp_path / "ch-spill.jsonl")}}}})
    exporter = clickhouse_exporter(settings, client)
    assert exporter is not None
    settled: list[str] = []
    sql_writer = BatchedUsageWriter(ledger.usage, tmp_path / "sql-spill.jsonl", batch_size=4,
                                    on_written=after_ledger_write(lambda rs: settled.extend(r.id for r in rs),
                                                                  exporter))
    await exporter.start()  # ClickHouse down: start still returns, the flusher retries
    try:
        records = [usage(i, created_at=T0 + timedelta(seconds=i)) for i in range(12)]
        for record in records:
            sql_writer.submit(record)
        async with asyncio.timeout(5):
            assert await sql_writer.flush()  # the ledger writes everything while ClickHouse is down
        assert len(settled) == 12
        assert all([await ledger.usage.get(r.id) is not None for r in records])
        assert not await exporter.flush()
        stats = exporter.stats()
        assert stats["queued"] == 5 and stats["spilled"] == 7 and stats["spill_file"]

        server.start()
        try:
            assert await exporter.flush()  # queue written, spill file replayed and removed
            assert not exporter.stats()["spill_file"]
            assert [r["id"] for r in rows(server, "usage_down_then_up")] == sorted(r.id for r in records)
            assert len(rows(server, "usage_down_then_up", final=False)) == 12  # each sent once
        finally:
            await exporter.drain(timeout_s=5)
            server.stop()
    finally:
        await sql_writer.drain(timeout_s=5)
