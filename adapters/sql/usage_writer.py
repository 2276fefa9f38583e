"""The usage queue: records leave the request path in O(1) and reach the store in batches.

- `submit` appends to an in-memory deque (bounded by `queue_size`) and never awaits.
- A background task writes a batch every `flush_interval` (sooner once `batch_size` records
  wait). A batch takes everything waiting, up to `max_batch_size`: under a backlog the batches
  grow, and one transaction carries thousands of records. A batch stays in flight until its
  write returns; a failed write puts the unwritten records back and retries with backoff.
- A batch the store refuses for its data (not an outage) is split in halves until the record
  it refuses is found; every other record of the batch is written.
- When the deque is full (the store is down or slow) records are appended to a local JSON-lines
  spill file and leave memory. Each line names the writer that spilled it. Once the store
  answers again the file is claimed (renamed), replayed from the position kept in
  `<claimed>.done`, and removed. Records this writer spilled itself are reported to
  `on_written` when replayed (their spend was pending here); records of another writer (an
  earlier run, another worker) to `on_adopted`.
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
from typing import Any, NamedTuple

import orjson
from sqlalchemy.exc import DataError, IntegrityError

from domain.ports import UsageSink
from domain.usage import UsageRecord

log = logging.getLogger(__name__)
_DATETIMES = ("created_at", "budget_period_start")
_FIELDS = {f.name for f in fields(UsageRecord)}


def record_to_json(record: UsageRecord, writer: str = "") -> bytes:
    data = asdict(record)
    if writer:
        data["writer"] = writer
    data["cost"] = str(record.cost)
    for name in _DATETIMES:
        value = data[name]
        data[name] = value.isoformat() if value is not None else None
    return orjson.dumps(data)


def record_from_json(line: bytes) -> UsageRecord:
    return _from_json(line)[0]


def _from_json(line: bytes) -> tuple[UsageRecord, str]:
    """The record of a spill line and the writer that spilled it ('' when unnamed)."""
    raw = orjson.loads(line)
    data: dict[str, Any] = {k: v for k, v in raw.items() if k in _FIELDS}
    data["cost"] = Decimal(data["cost"])
    for name in _DATETIMES:
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    return UsageRecord(**data), str(raw.get("writer") or "")


def _rejected_alone(exc: BaseException) -> bool:
    """Errors about the data itself (not the connection): worth retrying record by record."""
    return isinstance(exc, IntegrityError | DataError | ValueError | TypeError)


class BatchedUsageWriter:
    def __init__(self, sink: UsageSink, spill_path: Path, *, queue_size: int = 10_000, batch_size: int = 500,
                 flush_interval_s: float = 0.2, on_written: Callable[[Sequence[UsageRecord]], None] | None = None,
                 prepare: Callable[[], Awaitable[None]] | None = None, max_backoff_s: float = 30.0,
                 on_adopted: Callable[[Sequence[UsageRecord]], None] | None = None, shed_above: int = 0,
                 max_batch_size: int = 0) -> None:
        self._sink = sink
        self._spill = spill_path
        self._queue_size = queue_size
        self._shed_above = shed_above  # 0: never shed
        self._failing = False  # the last write (or prepare) failed: the store is down
        self._batch_size = batch_size
        self._max_batch = max(batch_size, max_batch_size)
        self._interval = flush_interval_s
        self._on_written = on_written
        self._on_adopted = on_adopted
        self.name = f"{os.getpid()}-{os.urandom(6).hex()}"  # names this writer's lines in the spill file
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
                batch = [self._buffer.popleft() for _ in range(min(self._max_batch, len(self._buffer)))]
                self._inflight = batch  # until the write returns: a drain that times out spills it
                unwritten = await self._write(batch, self._on_written)
                self._inflight = []
                if unwritten:
                    self._buffer.extendleft(reversed(unwritten))
                    return False
            if replay:
                return await self._replay()
            return True

    async def _ensure_ready(self) -> None:
        if not self._ready and self._prepare is not None:
            await self._prepare()
        self._ready = True

    async def _write(self, batch: list[UsageRecord],
                     report: Callable[[Sequence[UsageRecord]], None] | None) -> list[UsageRecord]:
        """Write `batch`; the records left unwritten (a suffix of it: empty when all are stored)."""
        try:
            await self._sink.write(batch)
        except Exception as exc:  # any store failure: classified below, never lost
            if not _rejected_alone(exc):
                self._failed(exc)
                return batch
            if len(batch) == 1:
                self._reject(batch[0], exc)
                self._done(batch, report)
                return []
            half = len(batch) // 2  # find the record the store refuses; write the others
            left = await self._write(batch[:half], report)
            return [*left, *batch[half:]] if left else await self._write(batch[half:], report)
        self._done(batch, report)
        return []

    def _done(self, batch: list[UsageRecord], report: Callable[[Sequence[UsageRecord]], None] | None) -> None:
        self._failing = False
        self.written += len(batch)
        if report is not None:
            report(batch)

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
        """Out of memory: the file holds them now (their pending spend still counts)."""
        self.spilled += len(records)
        _append(self._spill, records, self.name)

    def _spill_files(self) -> list[Path]:
        pending = sorted(p for p in self._spill.parent.glob(self._spill.name + ".replay-*")
                         if not p.name.endswith(".done"))
        return [*pending, self._spill] if self._spill.exists() else pending

    async def _replay(self) -> bool:
        for path in self._spill_files():
            if path == self._spill:  # claim it: new spills go to a fresh file meanwhile
                claimed = path.with_name(f"{path.name}.replay-{self.name}")
                try:
                    path.rename(claimed)
                except FileNotFoundError:
                    continue
                path = claimed
            if not await self._replay_file(path):
                return False
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            with contextlib.suppress(FileNotFoundError):
                _done_path(path).unlink()
            log.info("usage writer: replayed %s", path.name)
        return True

    async def _replay_file(self, path: Path) -> bool:
        """Write the file's records from its `.done` position on, in file order, advancing the
        position as they are stored: a replayed record is never reported twice, even when an
        attempt fails half way."""
        done = _done_path(path)
        for lines in _read_batches(path, _position(done), self._max_batch):
            at = 0
            while at < len(lines):  # a run of lines that are all this writer's, or all not
                mine = lines[at].writer == self.name
                end = at
                while end < len(lines) and (lines[end].writer == self.name) == mine:
                    end += 1
                run = lines[at:end]
                unwritten = await self._write([line.record for line in run],
                                              self._on_written if mine else self._on_adopted)
                if unwritten:  # resume at the first unwritten line
                    _save_position(done, run[len(run) - len(unwritten)].start)
                    return False
                _save_position(done, run[-1].end)
                at = end
        return True


def _done_path(path: Path) -> Path:
    return path.with_name(path.name + ".done")


def _position(done: Path) -> int:
    try:
        return int(done.read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def _save_position(done: Path, position: int) -> None:
    tmp = done.with_name(done.name + ".tmp")
    tmp.write_text(str(position))
    os.replace(tmp, done)


def _append(path: Path, records: Sequence[UsageRecord], writer: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(record_to_json(r, writer) + b"\n" for r in records)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)  # one O_APPEND write: lines from several workers never interleave
    finally:
        os.close(fd)


class _Line(NamedTuple):
    record: UsageRecord
    writer: str  # the writer that spilled it ('' when unnamed)
    start: int  # byte offsets of the line in the file
    end: int


def _read_batches(path: Path, start: int, size: int) -> Iterator[list[_Line]]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        handle.seek(start)
        position = start
        batch: list[_Line] = []
        for raw in handle:
            begin, position = position, position + len(raw)
            line = raw.strip()
            if not line:
                continue
            try:
                record, writer = _from_json(line)
            except (ValueError, TypeError, KeyError):
                log.error("usage writer: unreadable line in %s skipped", path.name)
                continue
            batch.append(_Line(record, writer, begin, position))
            if len(batch) >= size:
                yield batch
                batch = []
        if batch:
            yield batch
