"""Point reads on the request path of an embedded SQLite file, done synchronously.

Through aiosqlite and SQLAlchemy's async layer one primary-key read costs ~0.6 ms of CPU
(thread hops for begin, execute, fetch and rollback); the same read on a plain `sqlite3`
connection takes a few microseconds. The database is in WAL mode, where readers never wait for
writers, so such a read does not block the event loop in any meaningful way. Only used for
reads of one row by a unique column (the API key by hash, an organization's balance); usage
batches go through the write thread (`adapters/sql/write_thread.py`), other writes through the
async engine. Rows are decoded with SQLAlchemy's own result processors,
so they come back exactly as the async path returns them.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Column, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.sql.engine import sqlite_file

Processor = Any  # a SQLAlchemy result processor, or None


class SqliteReader:
    def __init__(self, path: str) -> None:
        self._path = path
        self._conn: sqlite3.Connection | None = None
        self._queries: dict[tuple[str, str], tuple[str, list[str], list[Processor]]] = {}
        self._dialect: Any = None

    @classmethod
    def for_engine(cls, engine: AsyncEngine) -> SqliteReader | None:
        """A reader for a file-backed SQLite engine; None for any other database."""
        database = sqlite_file(engine)
        if database is None:
            return None
        reader = cls(database)
        reader._dialect = engine.dialect
        return reader

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=2000")
            self._conn = conn
        return self._conn

    def _query(self, table: Table, column: Column[Any]) -> tuple[str, list[str], list[Processor]]:
        key = (table.name, column.key)
        cached = self._queries.get(key)
        if cached is not None:
            return cached
        compiled = select(table).where(column == bindparam("value")).compile(dialect=self._dialect)
        names = [c.key for c in table.c]
        processors: list[Processor] = [c.type._cached_result_processor(self._dialect, None) for c in table.c]
        query = self._queries[key] = (str(compiled), names, processors)
        return query

    def one(self, table: Table, column: Column[Any], value: Any) -> dict[str, Any] | None:
        sql, names, processors = self._query(table, column)
        row = self._connection().execute(sql, (value,)).fetchone()
        if row is None:
            return None
        return {name: (process(v) if process is not None and v is not None else v)
                for name, process, v in zip(names, processors, row, strict=True)}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
