"""The async engine: an empty `database.url` means the embedded SQLite file under `var/`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

EMBEDDED_DIR = "var"
EMBEDDED_FILE = "adaptive-proxy.db"
_ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg",
                  "postgres": "postgresql+asyncpg", "mysql": "mysql+aiomysql", "mariadb": "mariadb+aiomysql"}


def embedded_dir(base: Path | None = None) -> Path:
    return ((base or Path.cwd()) / EMBEDDED_DIR).resolve()


def database_url(url: str, base: Path | None = None) -> str:
    """The async SQLAlchemy URL for a configured one; '' -> the embedded SQLite file (created dir).

    Driverless URLs get the async driver (`postgresql://` -> `postgresql+asyncpg://`).
    """
    if not url:
        directory = embedded_dir(base)
        directory.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{directory / EMBEDDED_FILE}"
    parsed = make_url(url)
    if "+" not in parsed.drivername and parsed.drivername in _ASYNC_DRIVERS:
        parsed = parsed.set(drivername=_ASYNC_DRIVERS[parsed.drivername])
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine(url: str, base: Path | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. SQLite gets WAL, a busy timeout and BEGIN IMMEDIATE transactions, so
    several processes (uvicorn workers, the CLI) can write the same file without lock errors."""
    full = database_url(url, base)
    if make_url(full).get_backend_name() == "sqlite":
        engine = create_async_engine(full, **kwargs)
        sqlite_setup(engine.sync_engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(full, **kwargs)


def sqlite_file(engine: AsyncEngine) -> str | None:
    """The path of a file-backed SQLite engine's database; None for any other database."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return database


def sqlite_setup(engine: Engine) -> None:
    """WAL, a busy timeout and BEGIN IMMEDIATE on every connection of a (sync) SQLite engine."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def database_probe(engine: AsyncEngine, timeout_s: float = 2.0) -> Callable[[], Awaitable[dict[str, Any]]]:
    """/health's database probe: `SELECT 1` within `timeout_s` (raises when it cannot)."""

    async def probe() -> dict[str, Any]:
        async def ping() -> None:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        await asyncio.wait_for(ping(), timeout_s)
        return {"mode": engine.dialect.name}

    return probe


# MySQL/MariaDB abort a whole transaction on a deadlock or a lock-wait timeout (InnoDB's gap
# locks make two first-time INSERTs of one organization's credit row deadlock) and PostgreSQL
# on a detected deadlock; the documented remedy is to run the transaction again.
_RETRYABLE_MYSQL = frozenset({1205, 1213})
_RETRYABLE_PG = frozenset({"40P01", "40001"})
TRANSACTION_ATTEMPTS = 5
T = TypeVar("T")


def is_retryable(exc: BaseException) -> bool:
    """True for an error that rolled the transaction back and is cured by running it again."""
    orig = getattr(exc, "orig", None)
    args = getattr(orig, "args", ())
    if args and isinstance(args[0], int) and args[0] in _RETRYABLE_MYSQL:
        return True
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return isinstance(code, str) and code in _RETRYABLE_PG


async def in_transaction(engine: AsyncEngine, work: Callable[[Any], Awaitable[T]],
                            attempts: int = TRANSACTION_ATTEMPTS) -> T:
    """`work(conn)` inside one transaction, run again (after a short pause) when the database
    aborted it as a deadlock victim; any other error propagates at once."""
    from sqlalchemy.exc import DBAPIError

    for attempt in range(1, attempts + 1):
        try:
            async with engine.begin() as conn:
                return await work(conn)
        except DBAPIError as exc:
            if attempt == attempts or not is_retryable(exc):
                raise
            await asyncio.sleep(0.005 * attempt)
    raise AssertionError("unreachable")
