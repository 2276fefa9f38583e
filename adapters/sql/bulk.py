"""Many rows into one table, inside the caller's (synchronous) transaction.

SQLite: multi-row `INSERT ... VALUES (...), (...)` on the DBAPI connection itself, in chunks of
256, 128, ..., 1 rows, so a batch of any size uses at most nine distinct statements (sqlite3
caches the prepared ones) and takes one step per chunk instead of one per row. Values are
converted by SQLAlchemy's own bind processors for the column types (times, JSON), so the rows
are stored exactly as `conn.execute(insert(table), rows)` would store them. 256 rows of the
widest table are ~6,400 parameters, far below SQLite's limit of 32,766.

Other databases: one `executemany` (asyncpg pipelines it, PyMySQL rewrites it into multi-row
INSERTs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Connection, Dialect

CHUNKS = (256, 128, 64, 32, 16, 8, 4, 2, 1)
Processor = Callable[[Any], Any] | None
_processors: dict[tuple[str, tuple[str, ...], str], list[Processor]] = {}
_statements: dict[tuple[str, tuple[str, ...], int], str] = {}


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert `rows` (dicts with the same keys) into `table`."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), list(rows))
        return
    keys = tuple(rows[0])
    processors = _bind_processors(table, keys, conn.dialect)
    values = [[v if p is None else p(v) for p, v in zip(processors, (row[k] for k in keys), strict=True)]
              for row in rows]
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        start = 0
        for size in CHUNKS:
            while len(values) - start >= size:
                flat = [v for row in values[start:start + size] for v in row]
                cursor.execute(_statement(conn.dialect, table, keys, size), flat)
                start += size
    finally:
        cursor.close()


def _bind_processors(table: Table, keys: tuple[str, ...], dialect: Dialect) -> list[Processor]:
    cache_key = (table.name, keys, dialect.name)
    found = _processors.get(cache_key)
    if found is None:
        found = _processors[cache_key] = [table.c[k].type._cached_bind_processor(dialect) for k in keys]
    return found


def _statement(dialect: Dialect, table: Table, keys: tuple[str, ...], size: int) -> str:
    cache_key = (table.name, keys, size)
    found = _statements.get(cache_key)
    if found is None:
        quote = dialect.identifier_preparer.quote
        row = "(" + ", ".join("?" for _ in keys) + ")"
        found = _statements[cache_key] = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(k) for k in keys)}) "
                                          f"VALUES {', '.join(row for _ in range(size))}")
    return found
