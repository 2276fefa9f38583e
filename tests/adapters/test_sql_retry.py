"""A transaction the database aborted as a deadlock victim runs again; other errors do not."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from adapters.sql.engine import create_engine, in_transaction, is_retryable


class _MySqlError(Exception):
    pass


def _operational(code: int) -> OperationalError:
    return OperationalError("INSERT ...", {}, _MySqlError(code, "Deadlock found when trying to get lock"))


def test_deadlocks_and_lock_waits_are_retryable_others_are_not() -> None:
    assert is_retryable(_operational(1213)) and is_retryable(_operational(1205))
    assert not is_retryable(_operational(1062))  # duplicate key: running again changes nothing
    assert not is_retryable(IntegrityError("INSERT ...", {}, _MySqlError(1062, "Duplicate entry")))


async def test_a_deadlock_victim_runs_again_and_commits(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    calls = 0

    async def work(conn: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await conn.execute(text("CREATE TABLE t (v INTEGER)"))
            raise _operational(1213)  # rolled back: the table is gone again
        await conn.execute(text("CREATE TABLE t (v INTEGER)"))
        await conn.execute(text("INSERT INTO t VALUES (7)"))
        return calls

    try:
        assert await in_transaction(engine, work) == 2
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == 7

        async def duplicate(conn: Any) -> None:
            raise IntegrityError("INSERT ...", {}, _MySqlError(1062, "Duplicate entry"))

        with pytest.raises(IntegrityError):
            await in_transaction(engine, duplicate)
    finally:
        await engine.dispose()
