"""End to end: a gateway subprocess whose ledger is MariaDB and whose usage export is a real
ClickHouse server; one chat request through the official OpenAI SDK lands in both."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
import sqlalchemy

from tests.e2e.conftest import three_provider_config
from tests.integration.clickhouse_server import ClickHouseServer
from tests.integration.test_clickhouse_export import _server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseServer]:
    server = _server(tmp_path_factory.mktemp("clickhouse-e2e"))
    server.start()
    yield server
    server.stop()


def _eventually(probe: Callable[[], Any], timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_a_request_is_recorded_in_mariadb_and_exported_to_clickhouse(
        start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str, mariadb_url: str,
        clickhouse: ClickHouseServer, tmp_path: Path) -> None:
    config = three_provider_config(
        fake_upstream, database={"url": mariadb_url, "auto_migrate": True},
        usage={"flush_interval_ms": 20, "spill_path": str(tmp_path / "spill.jsonl"),
               "export": {"clickhouse": {"url": clickhouse.url, "table": "gateway_usage", "flush_interval_ms": 50,
                                         "spill_path": str(tmp_path / "ch-spill.jsonl")}}})
    url = start_gateway(config)  # migrates the run's MariaDB database at startup
    engine = sqlalchemy.create_engine(mariadb_url.replace("mysql+aiomysql", "mysql+pymysql"))

    def ledger_rows() -> list[Any]:  # other tests share the run's database: only rows new here count
        with engine.connect() as conn:
            return [r for r in conn.execute(sqlalchemy.text("SELECT id, model, input_tokens FROM api_key_usage"))
                    if r.id not in before]

    try:
        before: set[str] = set()
        before = {r.id for r in ledger_rows()}
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
        assert reply.choices[0].message.content
        stored = _eventually(ledger_rows)
    finally:
        engine.dispose()
    assert len(stored) == 1 and stored[0].model == reply.model

    def exported() -> list[dict[str, Any]]:
        if clickhouse.query("EXISTS TABLE default.gateway_usage").strip() != "1":
            return []
        text = clickhouse.query("SELECT id, model, input_tokens FROM default.gateway_usage FORMAT JSONEachRow")
        return [orjson.loads(line) for line in text.splitlines() if line]

    assert _eventually(exported) == [{"id": stored[0].id, "model": reply.model,
                                      "input_tokens": stored[0].input_tokens}]
