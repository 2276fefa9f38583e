"""Building and running the SQL side of metering: the usage writer, migrations at startup,
and an orderly shutdown (drain the queue, stop the usage store's write thread, close the pool)."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import embedded_dir
from adapters.sql.migrate import upgrade
from adapters.sql.usage_writer import BatchedUsageWriter
from application.settings import Settings
from domain.ports import UsageSink
from domain.usage import UsageRecord

log = logging.getLogger(__name__)
SPILL_FILE = "usage-spill.jsonl"


def spill_path(settings: Settings) -> Path:
    if settings.usage.spill_path:
        return Path(settings.usage.spill_path).expanduser().resolve()
    return embedded_dir() / SPILL_FILE


def database_needed(settings: Settings) -> bool:
    """Usage recording, API keys, credits or the admin API: anything that reads or writes SQL."""
    return (settings.usage_recording or settings.auth.api_keys or settings.credits.enabled
            or bool(settings.auth.admin_token))


def usage_writer(settings: Settings, sink: UsageSink, engine: AsyncEngine,
                 on_written: Callable[[Sequence[UsageRecord]], None],
                 on_adopted: Callable[[Sequence[UsageRecord]], None] | None = None) -> BatchedUsageWriter:
    usage = settings.usage
    prepare = functools.partial(upgrade, engine) if settings.database.auto_migrate else None
    return BatchedUsageWriter(sink, spill_path(settings), queue_size=usage.queue_size, batch_size=usage.batch_size,
                              max_batch_size=usage.max_batch_size, flush_interval_s=usage.flush_interval_ms / 1000,
                              on_written=on_written, on_adopted=on_adopted, prepare=prepare,
                              shed_above=usage.shed_above)


async def metering_lifecycle(settings: Settings, engine: Callable[[], AsyncEngine],
                             writer: Callable[[], BatchedUsageWriter],
                             payments: Callable[[], Any],
                             store: Callable[[], Any] | None = None) -> AsyncIterator[None]:
    """Nothing depends on this Resource; it only starts and stops what the request path uses."""
    if not database_needed(settings):
        yield None
        return
    usage_writer_ = writer()
    await usage_writer_.start()  # migrates first when database.auto_migrate is on
    yield None
    await usage_writer_.drain(timeout_s=max(1.0, min(settings.server.shutdown_timeout_s, 30.0)))
    close = getattr(store(), "close", None) if store is not None else None
    if close is not None:
        close()  # the SQLite write thread: waits for a transaction in progress
    processor = payments()
    if processor is not None:
        await processor.aclose()
    await engine().dispose()
