"""Memory under sustained metered load: one gateway worker with API keys, credits and usage on
(embedded SQLite), driven at saturation by 32 keep-alive connections to the fake upstream;
the gateway's RSS is sampled every `--every` requests. The figure: RSS growth after warm-up
(the first sample) to the end.

Usage: .venv/bin/python bench/soak.py [--requests 100000] [--every 10000] [--connections 32]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import _connect
from metering import config, prepare, request
from run import BIN, ROOT, free_port, wait_ready


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


async def drive(port: int, raw: bytes, total: int, every: int, connections: int, pid: int) -> tuple[
        list[tuple[int, float, float]], int]:
    conns = await _connect("127.0.0.1", port, connections)
    sent, errors, samples = 0, 0, []
    started = time.perf_counter()

    async def worker(conn) -> None:  # type: ignore[no-untyped-def]
        nonlocal sent, errors
        while sent < total:
            sent += 1
            number = sent  # this request's number (the counter moves on while it is in flight)
            status, _ = await conn.request(raw)
            if status != 200:
                errors += 1
            if number % every == 0:
                samples.append((number, rss_mib(pid), number / (time.perf_counter() - started)))

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.writer.close()
    return samples, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    upstream = free_port()
    up = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(upstream)], cwd=ROOT)
    port = free_port()
    try:
        wait_ready(upstream)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "soak.yaml"
            path.write_text(orjson.dumps(config(upstream, "credits", "")).decode())
            gateway = subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(path),
                                        "--port", str(port)], cwd=tmp, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            try:
                wait_ready(port)
                key = prepare(port, "credits")
                samples, errors = asyncio.run(drive(port, request(port, key), args.requests, args.every,
                                                    args.connections, gateway.pid))
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
            finally:
                gateway.terminate()
                gateway.wait(timeout=60)
    finally:
        up.terminate()
        up.wait(timeout=30)
    print("| requests | RSS MiB | req/s so far |\n|---|---|---|")
    for count, rss, rate in samples:
        print(f"| {count:,} | {rss:.1f} | {rate:,.0f} |")
    growth = samples[-1][1] - samples[0][1]
    print(f"\nRSS growth after warm-up ({samples[0][0]:,} -> {samples[-1][0]:,} requests): {growth:+.1f} MiB; "
          f"non-200: {errors}; health: {health.get('status')}")


if __name__ == "__main__":
    main()
