"""What metering costs on the request path: saturation throughput of one gateway worker in front
of the zero-latency fake upstream, under increasing metering configurations.

  plain      usage recording, keys and admin API off: the metering middleware is not installed
  usage      the default: one usage record per request, batched into the embedded SQLite file
  keys       + API-key auth and the per-key rate limit (in-memory limiter)
  credits    + credit pre-flight (a balance read per request) and post-flight deduction
  redis      + the rate limit in Redis (if --redis-url is given)

Usage: .venv/bin/python bench/metering.py [--duration 6] [--connections 32] [--rounds 2] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import closed_loop
from run import BIN, ROOT, free_port, wait_ready

ADMIN = "bench-admin"


def config(upstream: int, mode: str, redis_url: str) -> dict[str, Any]:
    base: dict[str, Any] = {
        "server": {"log_level": "warning"},
        "providers": {"fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{upstream}/v1", "api_key": "k",
                               "models": {"fake-small": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}},
    }
    if mode == "plain":
        base["usage"] = {"enabled": False}
        return base
    if mode in ("keys", "credits", "redis"):
        base["auth"] = {"api_keys": True, "admin_token": ADMIN}
    if mode in ("credits", "redis"):
        base["credits"] = {"enabled": True}
    if mode == "redis":
        base["redis"] = {"url": redis_url, "key_prefix": f"bench-{os.getpid()}:"}
    return base


def request(port: int, key: str | None) -> bytes:
    body = orjson.dumps({"model": "fake:fake-small", "max_tokens": 16,
                         "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"{auth}Content-Length: {len(body)}\r\n\r\n").encode() + body


def prepare(port: int, mode: str) -> str | None:
    if mode in ("plain", "usage"):
        return None
    admin = {"authorization": f"Bearer {ADMIN}"}
    key = httpx.post(f"http://127.0.0.1:{port}/admin/api-keys", headers=admin, timeout=10,
                     json={"name": "bench", "organization_id": "bench", "rate_limit_rpm": 10**9}).json()
    if mode in ("credits", "redis"):
        httpx.post(f"http://127.0.0.1:{port}/admin/credits/adjust", headers=admin, timeout=10,
                   json={"organization_id": "bench", "amount": 1_000_000, "type": "promotional"}).raise_for_status()
    return str(key["key"])


def run_mode(mode: str, upstream: int, args: argparse.Namespace) -> tuple[float, float, int]:
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(orjson.dumps(config(upstream, mode, args.redis_url)).decode())
        gateway = subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(path), "--port", str(port)],
                                   cwd=tmp, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            wait_ready(port)
            key = prepare(port, mode)
            raw = request(port, key)
            asyncio.run(closed_loop("127.0.0.1", port, raw, connections=8, duration_s=1.5))  # warm-up
            result = asyncio.run(closed_loop("127.0.0.1", port, raw, connections=args.connections,
                                             duration_s=args.duration))
            return result.throughput, result.percentile(50), result.errors
        finally:
            gateway.terminate()
            gateway.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()
    modes = ["plain", "usage", "keys", "credits"] + (["redis"] if args.redis_url else [])
    upstream = free_port()
    up = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(upstream)], cwd=ROOT)
    try:
        wait_ready(upstream)
        results: dict[str, list[tuple[float, float, int]]] = {m: [] for m in modes}
        for _ in range(args.rounds):  # interleaved rounds, so machine noise spreads over every mode
            for mode in modes:
                results[mode].append(run_mode(mode, upstream, args))
    finally:
        up.terminate()
        up.wait(timeout=30)
    plain = max(r[0] for r in results["plain"])
    print("\n| mode | best req/s | p50 ms | errors | vs plain |\n|---|---|---|---|---|")
    for mode in modes:
        best = max(results[mode], key=lambda r: r[0])
        print(f"| {mode} | {best[0]:,.0f} | {best[1]:.2f} | {best[2]} | {100 * (best[0] / plain - 1):+.1f}% |")


if __name__ == "__main__":
    main()
