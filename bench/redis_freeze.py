"""Requests and latency through a gateway while its Redis is frozen (`CLIENT PAUSE <ms> ALL`).

Starts the fake upstream and one gateway (the code of TREE, default this checkout) on the Redis at
REDIS_URL (default 127.0.0.1:6379) with API keys on (the Redis rate limiter), breakers and the
routing cache in Redis (routed requests), then sends an open loop of --rate req/s (bounded,
127.0.0.1 only) in three phases: Redis answering, Redis frozen for --pause-ms (always unpaused,
also on error), and Redis answering again. Prints, per phase: requests, errors, p50 / p99 / max
latency (from each request's due time) and how many took longer than 300 ms, plus /health's
status during the freeze. Compare trees by alternating:

    git archive main | tar -x -C /tmp/main-tree    # the tree before
    for round in 1 2; do for tree in /tmp/main-tree .; do
        .venv/bin/python bench/redis_freeze.py $tree
    done; done
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
import redis

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loadgen import Result, fake_provider_config, free_port, open_loop, serving  # noqa: E402

ADMIN = "bench-admin"
SLOW_MS = 300


def request(port: int, key: str) -> bytes:
    body = orjson.dumps({"model": "", "max_tokens": 16,  # routed: the routing cache is read per request
                         "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {key}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def row(name: str, r: Result) -> str:
    slow = [sum(1 for ms in r.latencies_ms if ms > bound) for bound in (100, SLOW_MS)]
    top = max(r.latencies_ms, default=float("nan"))
    return (f"| {name} | {len(r.latencies_ms)} | {r.errors} | {r.percentile(50):.1f} | {r.percentile(99):.1f} | "
            f"{top:.0f} | {slow[0]} | {slow[1]} |")


async def frozen_phase(port: int, raw: bytes, admin: redis.Redis, args: argparse.Namespace) -> tuple[Result, str]:
    admin.execute_command("CLIENT", "PAUSE", args.pause_ms, "ALL")
    try:
        result = await open_loop("127.0.0.1", port, raw, rate=args.rate, duration_s=args.pause_ms / 1000 - 0.6,
                                 connections=64)
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/health", timeout=5)
        health = f"{answer.status_code} {answer.json()['status']}"
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
    return result, health


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tree", nargs="?", default=str(HERE.parent))
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--pause-ms", type=int, default=3000)
    parser.add_argument("--phase-s", type=float, default=2.0)
    parser.add_argument("--redis-timeout-ms", type=int, default=0,
                        help="redis.timeout_ms and connect_timeout_ms (trees that have them; 0: the default)")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    up, gw = free_port(), free_port()
    prefix = f"bench-freeze-{uuid.uuid4().hex[:8]}:"
    config = fake_provider_config(
        up, {"server": {"log_level": "error", "access_log": False}, "auth": {"api_keys": True, "admin_token": ADMIN},
             "redis": {"url": redis_url, "key_prefix": prefix}},
        models={"fake-small": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}})
    if args.redis_timeout_ms:
        config["redis"] |= {"timeout_ms": args.redis_timeout_ms, "connect_timeout_ms": args.redis_timeout_ms}
    admin = redis.Redis.from_url(redis_url)
    with serving(config, tree, up, gw):
        try:
            key = httpx.post(f"http://127.0.0.1:{gw}/admin/api-keys", headers={"authorization": f"Bearer {ADMIN}"},
                             json={"name": "bench", "rate_limit_rpm": 10**9}, timeout=10).json()["key"]
            raw = request(gw, key)
            asyncio.run(open_loop("127.0.0.1", gw, raw, rate=args.rate, duration_s=1, connections=64))  # warm up
            before = asyncio.run(open_loop("127.0.0.1", gw, raw, rate=args.rate, duration_s=args.phase_s,
                                           connections=64))
            frozen, health = asyncio.run(frozen_phase(gw, raw, admin, args))
            time.sleep(1.5)  # Redis answers again: the gateway finds it (within its retry interval)
            after = asyncio.run(open_loop("127.0.0.1", gw, raw, rate=args.rate, duration_s=args.phase_s,
                                          connections=64))
            print(f"\n{tree.name}: {args.rate:.0f} req/s, Redis paused {args.pause_ms} ms; "
                  f"/health while frozen: {health}")
            print(f"| phase | requests | errors | p50 ms | p99 ms | max ms | > 100 ms | > {SLOW_MS} ms |")
            print("|---|---|---|---|---|---|---|---|")
            print(row("Redis answering", before))
            print(row("Redis frozen", frozen))
            print(row("Redis back", after))
        finally:
            admin.execute_command("CLIENT", "UNPAUSE")
            for key_name in admin.scan_iter(match=f"{prefix}*"):
                admin.delete(key_name)
            admin.close()


if __name__ == "__main__":
    main()
