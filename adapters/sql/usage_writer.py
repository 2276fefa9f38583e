"""The usage queue: records leave the request path in O(1) and reach the store in batches.

- `submit` appends to an in-memory deque (bounded by `queue_size`) and never awaits.
- A background task writes batches of `batch_size` every `flush_interval` (sooner when a batch
  is full). A failed write puts the batch back and retries with backoff.
- When the deque is full (the store is down or slow) records are appended to a local JSON-lines
  spill file; once the store answers again the file is replayed and removed.
- `drain` (shutdown) writes what it can and spills the rest, so no record is lost.
- `overloaded()` is true while the store answers but the backlog is at `shed_above` or more:
  the writer cannot keep up, and the request path sheds load (503) rather than let memory and
  the spill file grow with the overload's length. During an outage (the last write failed) it
  stays false: the spill file is what carries records through an outage.

Nothing is written twice: every store skips record ids it already holds, so a replay after a
crash, or a batch whose commit succeeded but whose acknowledgement was lost, is harmless.
A record the store rejects on its own (bad data, not an outage) goes to `<spill>.rejected`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.exc import DataError, IntegrityError

from domain.ports import UsageSink
from domain.usage import UsageRecord

log = logging.getLogger(__name__)
_DATETIMES = ("created_at", "budget_period_start")
_FIELDS = {f.name for f in fields(UsageRecord)}


def record_to_json(record: UsageRecord) -> bytes:
    data = asdict(record)
    data["cost"] = str(record.cost)
    for name in _DATETIMES:
        value = data[name]
        data[name] = value.isoformat() if value is not None else None
    return orjson.dumps(data)


def record_from_json(line: bytes) -> UsageRecord:
    data: dict[str, Any] = {k: v for k, v in orjson.loads(line).items() if k in _FIELDS}
    data["cost"] = Decimal(data["cost"])
    for name in _DATETIMES:
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    return UsageRecord(**data)


def _rejected_alone(exc: BaseException) -> bool:
    """Errors about the data itself (not the connection): worth retrying record by record."""
    return isinstance(exc, IntegrityError | DataError | ValueError | TypeError)


class BatchedUsageWriter:
    def __init__(self, sink: UsageSink, spill_path: Path, *, queue_size: int = 10_000, batch_size: int = 500,
                 flush_interval_s: float = 0.2, on_written: Callable[[Sequence[UsageRecord]], None] | None = None,
                 prepare: Callable[[], Awaitable[None]] | None = None, max_backoff_s: float = 30.0,
                 on_spilled: Callable[[Sequence[UsageRecord]], None] | None = None, shed_above: int = 0) -> None:
        self._sink = sink
        self._spill = spill_path
        self._queue_size = queue_size
        self._shed_above = shed_above  # 0: never shed
        self._failing = False  # the last write (or prepare) failed: the store is down
        self._batch_size = batch_size
        self._interval = flush_interval_s
        self._on_written = on_written
        self._on_spilled = on_spilled
        self._prepare = prepare
        self._ready = prepare is None
        self._max_backoff = max_backoff_s
        self._buffer: deque[UsageRecord] = deque()
        self._inflight: list[UsageRecord] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.written = 0
        self.spilled = 0
        self.rejected = 0
        self.failures = 0
        self.shed = 0  # requests refused by the request path because overloaded() was true

    # --- the request path -------------------------------------------------------------------

    def submit(self, record: UsageRecord) -> None:
        if self._closed or len(self._buffer) >= self._queue_size:
            self._spill_records([record])
            return
        self._buffer.append(record)
        if len(self._buffer) >= self._batch_size:
            self._wake.set()

    def overloaded(self) -> bool:
        """The store answers but the writer is `shed_above` records or more behind."""
        return 0 < self._shed_above <= len(self._buffer) and not self._failing and not self._closed

    def shed_request(self) -> bool:
        """For the request path: True (and counted in stats' `shed`) when a request is to be refused."""
        if self.overloaded():
            self.shed += 1
            return True
        return False

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Prepare the store once (a failure is retried by the flusher) and start flushing."""
        if self._task is not None:
            return
        self._closed = False
        with contextlib.suppress(Exception):
            await self._ensure_ready()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="usage-writer")

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Stop accepting into memory, write everything possible, spill the rest to the file."""
        self._closed = True
        self._wake.set()  # the flusher exits after its current write (no cancellation needed)
        try:
            async with asyncio.timeout(timeout_s):
                if self._task is not None:
                    await self._task
                await self.flush(replay=False)
        except TimeoutError:
            log.warning("usage writer: drain timed out")
        finally:
            if self._task is not None and not self._task.done():
                self._task.cancel()
            self._task = None
            leftover = [*self._inflight, *self._buffer]
            self._inflight, self._buffer = [], deque()
            if leftover:
                log.warning("usage writer: %d records spilled to %s at shutdown", len(leftover), self._spill)
                self._spill_records(leftover)

    def stats(self) -> dict[str, Any]:
        return {"queued": len(self._buffer), "written": self.written, "spilled": self.spilled, "shed": self.shed,
                "rejected": self.rejected, "failed_writes": self.failures, "spill_file": self._spill.exists()}

    def spill_bytes(self) -> int:
        """The spill file's size now (0 when there is none)."""
        try:
            return self._spill.stat().st_size
        except OSError:
            return 0

    async def _run(self) -> None:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation.
        backoff = self._interval
        while not self._closed:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(backoff):
                    await self._wake.wait()
            self._wake.clear()
            if self._closed:
                return
            ok = await self.flush()
            backoff = self._interval if ok else min(max(backoff * 2, 0.5), self._max_backoff)

    # --- writing ------------------------------------------------------------------------------

    async def flush(self, replay: bool = True) -> bool:
        """Write the buffer (then the spill file); False when the store failed."""
        async with self._lock:
            try:
                await self._ensure_ready()
            except Exception as exc:  # the store is down or not migrated yet: retried later
                self._failed(exc)
                return False
            while self._buffer:
                batch = [self._buffer.popleft() for _ in range(min(self._batch_size, len(self._buffer)))]
                if not await self._write(batch):
                    self._buffer.extendleft(reversed(batch))
                    return False
            if replay:
                return await self._replay()
            return True

    async def _ensure_ready(self) -> None:
        if not self._ready and self._prepare is not None:
            await self._prepare()
        self._ready = True

    async def _write(self, batch: list[UsageRecord]) -> bool:
        self._inflight = batch
        try:
            await self._sink.write(batch)
        except Exception as exc:  # any store failure: classified below, never lost
            if not _rejected_alone(exc) or len(batch) == 1:
                if len(batch) == 1 and _rejected_alone(exc):
                    self._reject(batch[0], exc)
                    self._done(batch)
                    return True
                self._failed(exc)
                return False
            for record in batch:  # find the record the store refuses; write the others
                if not await self._write([record]):
                    return False
            self._inflight = []
            return True
        self._done(batch)
        return True

    def _done(self, batch: list[UsageRecord]) -> None:
        self._inflight = []
        self._failing = False
        self.written += len(batch)
        if self._on_written is not None:
            self._on_written(batch)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        self._failing = True
        if self.failures == 1 or self.failures % 50 == 0:
            log.warning("usage writer: store unavailable (%s: %s); %d queued, spilling beyond %d",
                        type(exc).__name__, str(exc)[:200], len(self._buffer), self._queue_size)

    def _reject(self, record: UsageRecord, exc: BaseException) -> None:
        self.rejected += 1
        log.error("usage writer: record %s rejected by the store (%s); kept in %s.rejected",
                  record.id, type(exc).__name__, self._spill)
        _append(self._spill.with_name(self._spill.name + ".rejected"), [record])

    # --- the spill file -------------------------------------------------------------------------

    def _spill_records(self, records: Sequence[UsageRecord]) -> None:
        self.spilled += len(records)
        _append(self._spill, records)
        if self._on_spilled is not None:
            self._on_spilled(records)  # out of memory: the file holds them now

    def _spill_files(self) -> list[Path]:
        pending = sorted(self._spill.parent.glob(self._spill.name + ".replay-*"))
        return [*pending, self._spill] if self._spill.exists() else pending

    async def _replay(self) -> bool:
        for path in self._spill_files():
            if path == self._spill:  # claim it: new spills go to a fresh file meanwhile
                claimed = path.with_name(f"{path.name}.replay-{os.getpid()}-{id(self)}")
                try:
                    path.rename(claimed)
                except FileNotFoundError:
                    continue
                path = claimed
            for batch in _read_batches(path, self._batch_size):
                if not await self._write(batch):
                    return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            log.info("usage writer: replayed %s", path.name)
        return True


def _append(path: Path, records: Sequence[UsageRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(record_to_json(r) + b"\n" for r in records)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)  # one O_APPEND write: lines from several workers never interleave
    finally:
        os.close(fd)


def _read_batches(path: Path, size: int) -> Iterator[list[UsageRecord]]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        batch: list[UsageRecord] = []
        for line in handle:
            line = line.strip()
            if not line:
                continue
            try:
                batch.append(record_from_json(line))
            except (ValueError, TypeError, KeyError):
                log.error("usage writer: unreadable line in %s skipped", path.name)
                continue
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
