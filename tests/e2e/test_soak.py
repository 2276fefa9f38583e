"""A short soak: 15k metered requests (API keys, credits, usage on) against a real gateway
subprocess, on 16 keep-alive connections. RSS growth after a 5k-request warm-up stays under a
bound proportional to the bench bar (bench/soak.py: < 10 MiB per 100k requests, so 1 MiB per
10k) with a margin of 3x for allocator noise, the usage writer keeps up (at most 5% of the
requests shed with 503 `ledger_overloaded`), and every admitted request has exactly one usage
row (a shed request has none)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from tests.e2e.conftest import free_port, wait_until_ready
from tests.e2e.gateway_process import gateway_process

pytestmark = pytest.mark.e2e
ADMIN_TOKEN = "soak-admin"
WARM_UP, MEASURED, CONNECTIONS = 5_000, 10_000, 16
BOUND_KIB = 3 * 1024 * MEASURED // 10_000  # 3x the bar's 1 MiB per 10k requests


async def _drive(port: int, raw: bytes, total: int) -> dict[int, int]:
    statuses: dict[int, int] = {}
    sent = 0

    async def one_connection() -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while sent < total:
                sent += 1
                writer.write(raw)
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                at = lower.find(b"content-length:")
                await reader.readexactly(int(lower[at + 15: lower.find(b"\r\n", at)]))
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(CONNECTIONS)))
    return statuses


def test_rss_stays_flat_and_every_admitted_request_has_one_usage_row(tmp_path: Path) -> None:
    up_port = free_port()
    upstream = subprocess.Popen([sys.executable, "-c", "from entrypoints.cli import main; main()", "fake-upstream",
                                 "--port", str(up_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "soak.db"
    config = {
        "server": {"log_level": "warning"},
        "providers": {"fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{up_port}/v1", "api_key": "k",
                               "models": {"small": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}},
        "auth": {"api_keys": True, "admin_token": ADMIN_TOKEN},
        "credits": {"enabled": True},
        "database": {"url": f"sqlite:///{db}"},
        "usage": {"spill_path": str(tmp_path / "spill.jsonl")},
    }
    try:
        wait_until_ready(f"http://127.0.0.1:{up_port}/health", upstream)
        with gateway_process(config, tmp_path) as gateway:
            admin = {"authorization": f"Bearer {ADMIN_TOKEN}"}
            key = httpx.post(f"{gateway.url}/admin/api-keys", headers=admin, timeout=10, json={
                "name": "soak", "organization_id": "soak", "rate_limit_rpm": 10**9}).json()["key"]
            httpx.post(f"{gateway.url}/admin/credits/adjust", headers=admin, timeout=10, json={
                "organization_id": "soak", "amount": 10**6, "type": "promotional"}).raise_for_status()
            body = orjson.dumps({"model": "fake:small", "max_tokens": 8,
                                 "messages": [{"role": "user", "content": "hi"}]})
            raw = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n"
                   f"Content-Type: application/json\r\nAuthorization: Bearer {key}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            warm = asyncio.run(_drive(gateway.port, raw, WARM_UP))
            before = gateway.rss_kib()
            measured = asyncio.run(_drive(gateway.port, raw, MEASURED))
            growth = gateway.rss_kib() - before
            gateway.process.terminate()  # a graceful drain writes (or spills) what is queued
            assert gateway.process.wait(timeout=60) == 0
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)
    statuses = {s: warm.get(s, 0) + measured.get(s, 0) for s in {*warm, *measured}}
    assert set(statuses) <= {200, 503}, statuses  # 503: shed because the ledger could not keep up
    shed = statuses.get(503, 0)
    assert shed <= 0.05 * (WARM_UP + MEASURED), f"{shed} of {WARM_UP + MEASURED} requests shed: the writer fell behind"
    assert growth < BOUND_KIB, f"RSS grew {growth} KiB over {MEASURED} requests (bound {BOUND_KIB} KiB)"
    with sqlite3.connect(db) as conn:
        rows, distinct = conn.execute("SELECT COUNT(*), COUNT(DISTINCT request_id) FROM api_key_usage").fetchone()
    spill = tmp_path / "spill.jsonl"
    spilled = len(spill.read_bytes().splitlines()) if spill.exists() else 0
    assert rows + spilled == statuses.get(200, 0) and distinct == rows
