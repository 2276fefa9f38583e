"""The ledger writes of an embedded SQLite file, on a thread of their own.

Through aiosqlite every statement of a transaction is a hop to aiosqlite's thread and back to
the event loop (begin, each execute, each fetch, commit), and the event loop also runs every
request: at saturation the usage writer fell behind by thousands of records. Here one batch is
one hand-off: the whole transaction (`work(conn)`, synchronous SQLAlchemy Core on a pysqlite
connection, plus raw multi-row INSERTs, see `adapters/sql/bulk.py`) runs on this thread, which
keeps its connection open, and the event loop only awaits its result. SQLite releases the GIL
while it steps a statement, so the request path keeps running meanwhile.

The connection is set up like the async engine's (WAL, busy timeout, BEGIN IMMEDIATE), so this
thread, the async engine (grants, keys, the admin API) and other processes on the same file
serialize their transactions through SQLite's lock instead of failing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from adapters.sql.engine import sqlite_setup

T = TypeVar("T")


class WriteThread:
    def __init__(self, path: str) -> None:
        self._path = path
        self._executor: ThreadPoolExecutor | None = None
        self._engine: Engine | None = None
        self.transactions = 0

    async def run(self, work: Callable[[Connection], T]) -> T:
        """`work(conn)` in one transaction on the thread (committed when it returns, rolled back
        when it raises). A cancelled caller does not stop a transaction already running: it ends
        (commits or rolls back) on its own, and `close` waits for it."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-ledger")
        return await asyncio.wrap_future(self._executor.submit(self._transaction, work))

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        if self._engine is None:
            # One connection, used by this thread only (StaticPool keeps it open between batches).
            self._engine = create_engine(f"sqlite:///{self._path}", poolclass=StaticPool,
                                         connect_args={"check_same_thread": False})
            sqlite_setup(self._engine)
        with self._engine.begin() as conn:
            result = work(conn)
        self.transactions += 1
        return result

    def close(self) -> None:
        """Wait for the transaction in progress (if any), then close the connection and the thread."""
        executor, self._executor = self._executor, None
        if executor is not None:
            executor.submit(self._dispose).result()
            executor.shutdown(wait=True)

    def _dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
