"""The batched usage writer: O(1) submit, batches, retries, spill file, drain, replay, rejects."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from adapters.memory.usage import InMemoryUsageStore
from adapters.sql.usage_writer import BatchedUsageWriter, record_from_json, record_to_json
from domain.usage import UsageRecord


def record(i: int, **fields: object) -> UsageRecord:
    return UsageRecord(id=f"r{i:05d}", request_id=f"q{i}", cost=Decimal("0.001"),
                       created_at=datetime(2025, 1, 1, tzinfo=UTC), **fields)  # type: ignore[arg-type]


class FlakySink(InMemoryUsageStore):
    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.batches: list[int] = []
        self.poison: set[str] = set()
        self.failed = False

    async def write(self, records: Sequence[UsageRecord]) -> None:
        if self.down:
            raise OperationalError("INSERT", {}, ConnectionRefusedError("db down"))
        if any(r.id in self.poison for r in records):
            raise IntegrityError("INSERT", {}, ValueError("bad row"))
        self.batches.append(len(records))
        await super().write(records)


def writer(sink: FlakySink, tmp_path: Path, **options: object) -> BatchedUsageWriter:
    return BatchedUsageWriter(sink, tmp_path / "spill.jsonl", flush_interval_s=0.01, **options)  # type: ignore[arg-type]


def test_records_survive_the_spill_format() -> None:
    original = record(1, metadata={"user": "u"}, budget_period_start=datetime(2025, 1, 1, tzinfo=UTC),
                      charge_credits=True, organization_id="o", api_key_id=3)
    assert record_from_json(record_to_json(original)) == original


async def test_submit_is_synchronous_and_batches_are_bounded(tmp_path: Path) -> None:
    sink = FlakySink()
    w = writer(sink, tmp_path, batch_size=10)  # max_batch_size defaults to batch_size
    for i in range(25):
        w.submit(record(i))
    assert len(sink) == 0  # nothing written on the request path
    assert await w.flush()
    assert sink.batches == [10, 10, 5] and len(sink) == 25


async def test_the_background_task_flushes_and_reports_written_records(tmp_path: Path) -> None:
    sink, written = FlakySink(), []
    w = BatchedUsageWriter(sink, tmp_path / "s.jsonl", flush_interval_s=0.01, on_written=written.extend)
    await w.start()
    w.submit(record(1))
    for _ in range(100):
        if len(sink):
            break
        await asyncio.sleep(0.01)
    await w.drain()
    assert len(sink) == 1 and [r.id for r in written] == ["r00001"]


async def test_an_outage_buffers_then_spills_and_nothing_is_lost_or_doubled(tmp_path: Path) -> None:
    sink = FlakySink()
    w = writer(sink, tmp_path, queue_size=5, batch_size=4)
    sink.down = True
    for i in range(12):
        w.submit(record(i))
    assert not await w.flush()
    assert w.stats()["queued"] == 5 and w.spilled == 7 and (tmp_path / "spill.jsonl").exists()
    sink.down = False
    assert await w.flush()
    assert len(sink) == 12 and not (tmp_path / "spill.jsonl").exists()
    assert not list(tmp_path.glob("spill.jsonl.replay-*"))  # noqa: ASYNC240


async def test_drain_spills_what_the_store_cannot_take_and_the_next_run_replays_it(tmp_path: Path) -> None:
    sink = FlakySink()
    sink.down = True
    first = writer(sink, tmp_path)
    for i in range(3):
        first.submit(record(i))
    await first.drain(timeout_s=0.5)
    first.submit(record(3))  # finished during shutdown: straight to the file
    assert len(sink) == 0
    sink.down = False
    second = writer(sink, tmp_path)
    assert await second.flush()
    assert sorted(r.id for r in await _all(sink)) == ["r00000", "r00001", "r00002", "r00003"]


async def test_a_replayed_file_writes_nothing_twice(tmp_path: Path) -> None:
    sink = FlakySink()
    w = writer(sink, tmp_path)
    w.submit(record(1))
    assert await w.flush()
    spill = b"".join(record_to_json(r) + b"\n" for r in (record(1), record(2)))
    (tmp_path / "spill.jsonl").write_bytes(spill)
    assert await w.flush()
    assert len(sink) == 2


async def test_a_record_the_store_refuses_goes_to_the_rejected_file_and_the_rest_is_written(tmp_path: Path) -> None:
    sink = FlakySink()
    sink.poison = {"r00002"}
    w = writer(sink, tmp_path)
    for i in range(5):
        w.submit(record(i))
    assert await w.flush()
    assert len(sink) == 4 and w.rejected == 1
    rejected = (tmp_path / "spill.jsonl.rejected").read_bytes().splitlines()
    assert [record_from_json(line).id for line in rejected] == ["r00002"]


async def _all(sink: InMemoryUsageStore) -> list[UsageRecord]:
    return [r for r in [await sink.get(f"r{i:05d}") for i in range(10)] if r is not None]


@pytest.mark.parametrize("count", [10_000])
def test_submit_is_cheap(tmp_path: Path, count: int) -> None:
    import time

    w = writer(FlakySink(), tmp_path, queue_size=count)
    records = [record(i) for i in range(count)]
    start = time.perf_counter()
    for r in records:
        w.submit(r)
    per_call = (time.perf_counter() - start) / count
    assert per_call < 20e-6, per_call


async def test_drain_never_hangs_whatever_the_flusher_is_doing(tmp_path: Path) -> None:
    # Regression: a cancelled asyncio.wait_for could swallow the cancellation (Python 3.11),
    # leaving shutdown waiting forever on the flusher.
    sink = FlakySink()
    for i in range(100):
        w = BatchedUsageWriter(sink, tmp_path / "s.jsonl", flush_interval_s=0.001)
        await w.start()
        w.submit(record(i))
        await asyncio.sleep(0.001 * (i % 3))
        async with asyncio.timeout(2):
            await w.drain()
    assert len(sink) == 100


async def test_spilled_records_leave_memory_but_their_spend_counts_until_replayed(tmp_path: Path) -> None:
    from application.metering import PendingSpend

    pending, sink = PendingSpend(), FlakySink()
    w = BatchedUsageWriter(sink, tmp_path / "spill.jsonl", flush_interval_s=0.01, queue_size=2,
                           on_written=pending.settle)
    sink.down = True
    for i in range(10):
        charged = record(i, charge_credits=True, organization_id="acme")
        pending.add(charged)
        w.submit(charged)
    assert not await w.flush()
    assert w.spilled == 8 and w.stats()["queued"] == 2  # only the records still queued are held in memory
    assert pending.for_org("acme") == Decimal("0.010") and len(pending) == 10  # ... every unwritten cost counts
    sink.down = False
    assert await w.flush()  # the queue, then the replayed spill file (its own lines: settled)
    assert len(sink) == 10 and len(pending) == 0 and pending.for_org("acme") == 0


async def test_another_writers_spill_lines_are_written_but_not_settled_here(tmp_path: Path) -> None:
    from application.metering import PendingSpend

    pending, sink, adopted = PendingSpend(), FlakySink(), []
    earlier = writer(sink, tmp_path)
    sink.down = True
    for i in range(3):
        earlier.submit(record(i, charge_credits=True, organization_id="acme"))
    await earlier.drain(timeout_s=0.5)  # an earlier run's spill file
    sink.down = False
    mine = record(7, charge_credits=True, organization_id="acme")
    w = BatchedUsageWriter(sink, tmp_path / "spill.jsonl", flush_interval_s=0.01, on_written=pending.settle,
                           on_adopted=adopted.extend)
    pending.add(mine)
    w.submit(mine)
    assert await w.flush()
    assert sorted(r.id for r in adopted) == ["r00000", "r00001", "r00002"]
    assert len(sink) == 4 and len(pending) == 0 and pending.for_org("acme") == 0


async def test_a_replay_that_fails_half_way_resumes_where_it_stopped(tmp_path: Path) -> None:
    from application.metering import PendingSpend

    pending, written = PendingSpend(), []

    class FailsOnce(FlakySink):
        async def write(self, records: Sequence[UsageRecord]) -> None:
            if any(r.id == "r00005" for r in records) and not self.failed:
                self.failed = True
                raise OperationalError("INSERT", {}, ConnectionRefusedError("db down"))
            await super().write(records)

    sink = FailsOnce()
    w = BatchedUsageWriter(sink, tmp_path / "spill.jsonl", flush_interval_s=0.01, queue_size=1, batch_size=1,
                           max_batch_size=4, on_written=lambda rs: (pending.settle(rs), written.extend(rs)))
    for i in range(1, 10):
        charged = record(i, charge_credits=True, organization_id="acme")
        pending.add(charged)
        w.submit(charged)  # the first waits in memory, the other eight go to the file
    assert not await w.flush()  # r1, then r2..r5 from the file: that batch fails
    assert await w.flush()
    assert sorted(r.id for r in written) == [f"r{i:05d}" for i in range(1, 10)]  # each reported once
    assert len(sink) == 9 and len(pending) == 0 and pending.for_org("acme") == 0
    assert not list(tmp_path.iterdir())  # noqa: ASYNC240 - the claimed file and its position are removed


async def test_a_backlog_is_written_in_batches_up_to_max_batch_size(tmp_path: Path) -> None:
    sink = FlakySink()
    w = writer(sink, tmp_path, batch_size=10, max_batch_size=3_000, queue_size=100_000)
    for i in range(7_000):
        w.submit(record(i))
    assert await w.flush()
    assert sink.batches == [3_000, 3_000, 1_000] and len(sink) == 7_000


async def test_a_refused_record_is_found_by_halving_and_the_rest_of_a_big_batch_is_written(tmp_path: Path) -> None:
    sink = FlakySink()
    sink.poison = {"r01234"}
    written: list[UsageRecord] = []
    w = BatchedUsageWriter(sink, tmp_path / "spill.jsonl", flush_interval_s=0.01, max_batch_size=4_096,
                           queue_size=10_000, on_written=written.extend)
    for i in range(4_096):
        w.submit(record(i))
    assert await w.flush()
    assert len(sink) == 4_095 and w.rejected == 1 and w.written == 4_096
    assert len(sink.batches) <= 2 * 12 + 1  # log2(4096) halvings, not one write per record
    assert sorted(r.id for r in written) == [f"r{i:05d}" for i in range(4_096)]  # each reported once


async def test_an_outage_in_the_middle_of_a_halving_puts_back_only_the_unwritten_records(tmp_path: Path) -> None:
    written: list[UsageRecord] = []

    class DownAfterPoison(FlakySink):
        async def write(self, records: Sequence[UsageRecord]) -> None:
            if len(records) == 2 and records[0].id == "r00002" and not self.failed:
                self.down = self.failed = True  # the store goes away while the batch is being split
            await super().write(records)

    sink = DownAfterPoison()
    sink.poison = {"r00001"}
    w = BatchedUsageWriter(sink, tmp_path / "spill.jsonl", flush_interval_s=0.01, max_batch_size=4,
                           on_written=written.extend)
    for i in range(4):
        w.submit(record(i))
    assert not await w.flush()  # [0 1 2 3] refused -> [0 1] refused -> [0] ok, [1] rejected -> [2 3] down
    assert [r.id for r in written] == ["r00000", "r00001"] and w.stats()["queued"] == 2
    sink.down = False
    assert await w.flush()
    assert [r.id for r in written] == ["r00000", "r00001", "r00002", "r00003"] and len(sink) == 3


async def test_a_backlog_over_shed_above_is_overloaded_while_the_store_answers(tmp_path: Path) -> None:
    sink = FlakySink()
    w = writer(sink, tmp_path, shed_above=3)
    for i in range(2):
        w.submit(record(i))
    assert not w.shed_request()
    w.submit(record(2))
    assert w.overloaded() and w.shed_request() and w.stats()["shed"] == 1
    assert await w.flush()
    assert not w.overloaded() and len(sink) == 3


async def test_an_outage_spills_instead_of_shedding(tmp_path: Path) -> None:
    sink = FlakySink()
    w = writer(sink, tmp_path, shed_above=2, queue_size=3)
    sink.down = True
    for i in range(2):
        w.submit(record(i))
    assert not await w.flush()  # the store is down: the spill file carries the records, no shedding
    assert not w.overloaded()
    for i in range(2, 6):
        w.submit(record(i))
    assert not w.overloaded() and w.spilled == 3
    sink.down = False
    assert await w.flush() and len(sink) == 6


async def test_shed_above_zero_never_sheds(tmp_path: Path) -> None:
    w = writer(FlakySink(), tmp_path, shed_above=0, queue_size=5)
    for i in range(10):
        w.submit(record(i))
    assert not w.overloaded() and w.spilled == 5
