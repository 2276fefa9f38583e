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
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
        elif conn.dialect.name in ("mysql", "mariadb"):
            await conn.execute(text("SELECT GET_LOCK('adaptive_proxy_migrate', 60)"))
        await conn.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
