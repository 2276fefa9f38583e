"""The async engine: an empty `database.url` means the embedded SQLite file under `var/`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
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
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_async_engine(full, **kwargs)


def _sqlite_setup(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
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
