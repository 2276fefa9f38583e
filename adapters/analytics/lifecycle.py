"""Building and running the ClickHouse export: a usage writer of its own (queue, retry, spill)
in front of `ClickHouseUsageSink`, fed after each committed SQL batch."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import httpx2

from adapters.analytics.clickhouse import ClickHouseUsageSink, fan_out
from adapters.sql.engine import embedded_dir
from adapters.sql.usage_writer import BatchedUsageWriter
from application.settings import Settings
from domain.usage import UsageRecord

SPILL_FILE = "clickhouse-spill.jsonl"

def clickhouse_exporter(settings: Settings, http_client: httpx2.AsyncClient) -> BatchedUsageWriter | None:
    """None unless `usage.export.clickhouse.url` is set."""
    ch = settings.usage.export.clickhouse
    if not ch.url:
        return None
    sink = ClickHouseUsageSink(http_client, ch.url, database=ch.database, table=ch.table, username=ch.username,
                               password=ch.password, timeout_s=ch.timeout_s)
    spill = Path(ch.spill_path).expanduser().resolve() if ch.spill_path else embedded_dir() / SPILL_FILE
    return BatchedUsageWriter(sink, spill, queue_size=ch.queue_size, batch_size=ch.batch_size,
                              flush_interval_s=ch.flush_interval_ms / 1000, prepare=sink.create_table)

def after_ledger_write(settle: Callable[[Sequence[UsageRecord]], None] | None,
                       exporter: BatchedUsageWriter | None) -> Callable[[Sequence[UsageRecord]], None]:
    """The SQL writer's `on_written`: settle pending spend, then queue the batch for ClickHouse
    (`submit` never awaits: the ledger's flusher is not slowed by the export). Its `on_adopted`
    (records another writer spilled, replayed here) has no spend to settle: `settle` None."""

    def export(records: Sequence[UsageRecord]) -> None:
        assert exporter is not None
        for record in records:
            exporter.submit(record)

    return fan_out(settle, export if exporter is not None else None)

async def export_lifecycle(exporter: Callable[[], BatchedUsageWriter | None],
                           shutdown_timeout_s: float) -> AsyncIterator[None]:
    writer = exporter()
    if writer is None:
        yield None
        return
    await writer.start()  # creates the table; when ClickHouse is down the flusher retries
    yield None
    await writer.drain(timeout_s=max(1.0, min(shutdown_timeout_s, 30.0)))
