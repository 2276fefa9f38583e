"""Alembic migrations run programmatically (no alembic.ini needed): `adaptive-proxy db upgrade`,
and at startup when `database.auto_migrate` is on.

Concurrent upgrades (several workers starting at once) are serialized: an advisory lock on
PostgreSQL, a named lock on MySQL, and SQLite's own write lock (BEGIN IMMEDIATE).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

VERSION_TABLE = "adaptive_proxy_alembic_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK_ID = 0x41505058  # "APPX"
_MYSQL_LOCK = "adaptive_proxy_migrate"
_MYSQL_LOCK_WAIT_S = 120


def alembic_config(connection: Any = None, url: str | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Any, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)


def _current(connection: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    if engine.dialect.name in ("mysql", "mariadb"):
        await _upgrade_mysql(engine, revision)
        return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        await conn.run_sync(_upgrade, revision)


async def _upgrade_mysql(engine: AsyncEngine, revision: str) -> None:
    """MySQL's named lock belongs to the session, not the transaction (DDL commits implicitly), so
    it is released explicitly, before the connection goes back to the pool."""
    async with engine.connect() as conn:
        got = (await conn.execute(text("SELECT GET_LOCK(:name, :wait)"),
                                  {"name": _MYSQL_LOCK, "wait": _MYSQL_LOCK_WAIT_S})).scalar()
        await conn.commit()
        if got != 1:
            raise RuntimeError(f"another migration held the {_MYSQL_LOCK!r} lock for {_MYSQL_LOCK_WAIT_S}s")
        try:
            async with conn.begin():
                await conn.run_sync(_upgrade, revision)
        finally:
            await conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _MYSQL_LOCK})
            await conn.commit()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
