"""The metering contract suites on the in-memory adapters and on SQLite (PostgreSQL: integration)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.adapters.metering_contract import *  # noqa: F403 - the shared contract tests
from tests.adapters.metering_contract import Stores, memory_stores, sql_stores


@pytest.fixture(params=["memory", "sqlite"])
async def stores(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Stores]:
    if request.param == "memory":
        yield memory_stores()
        return
    bundle = await sql_stores(f"sqlite:///{tmp_path / 'contract.db'}")
    yield bundle
    await bundle.close()
