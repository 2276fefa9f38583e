"""Engine URLs, migrations that match the models, and the `keys`/`db` CLI on an embedded SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from adapters.sql.engine import create_engine, database_url
from adapters.sql.migrate import VERSION_TABLE, current_revision, head_revision, upgrade
from adapters.sql.models import Base
from entrypoints.cli import main


def test_an_empty_url_is_the_embedded_sqlite_file_under_var(tmp_path: Path) -> None:
    url = database_url("", base=tmp_path)
    assert url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'var' / 'adaptive-proxy.db'}"
    assert (tmp_path / "var").is_dir()


def test_driverless_urls_get_the_async_driver() -> None:
    assert database_url("postgresql://u:p@h:5432/db") == "postgresql+asyncpg://u:p@h:5432/db"
    assert database_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    assert database_url("mysql://h/db") == "mysql+aiomysql://h/db"
    assert database_url("postgresql+psycopg://h/db") == "postgresql+psycopg://h/db"


async def test_migrations_create_exactly_the_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        assert await current_revision(engine) is None
        await upgrade(engine)
        await upgrade(engine)  # idempotent
        assert await current_revision(engine) == head_revision() == "0001_metering"

        def diff(conn: object) -> list[object]:
            context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE,  # type: ignore[arg-type]
                                                             "compare_type": True})
            return compare_metadata(context, Base.metadata)

        async with engine.connect() as conn:
            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


def test_cli_db_upgrade_and_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.yaml").write_text("providers: {}\n")
    main(["db", "upgrade", "--config", "c.yaml"])
    assert "0001_metering" in capsys.readouterr().out
    assert (tmp_path / "var" / "adaptive-proxy.db").exists()
    main(["keys", "create", "--name", "ci", "--org", "acme", "--rpm", "7", "--budget", "5",
          "--budget-period", "monthly", "--config", "c.yaml"])
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("apk_") and len(out[1]) == 47
    main(["keys", "list", "--config", "c.yaml"])
    listed = capsys.readouterr().out
    assert out[1][:12] in listed and "org=acme" in listed and "rpm=7" in listed
    main(["keys", "revoke", "1", "--config", "c.yaml"])
    main(["keys", "list", "--active", "--config", "c.yaml"])
    assert capsys.readouterr().out.splitlines() == ["revoked key 1 (" + out[1][:12] + "...)"]
    with pytest.raises(SystemExit):
        main(["keys", "revoke", "99", "--config", "c.yaml"])
