"""Response-cache hit latency.

1. In process: the cache's own path for an exact hit — parse the OpenAI body, plan (key
   derivation), look up, build the hit and encode the response JSON — timed per call.
2. Over HTTP: the fake upstream (zero latency) and one gateway worker as subprocesses, open-loop
   requests at a fixed rate (latency from the due time, response fully read) for:
     the HTTP floor (GET /v1/models: no chat work at all), exact hit (plain), exact hit (stream),
     a miss sent upstream (`Cache-Control: no-cache`: key + store, no lookup), and the same
     request through a gateway with the cache off.
   With --redis-url the gateway's cache lives in Redis (a fresh key prefix), else in process.

Usage: .venv/bin/python bench/cache.py [--rate 200] [--duration 5] [--redis-url redis://127.0.0.1:6379/0]
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
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from loadgen import Result, build_request, open_loop
from run import BIN, free_port, wait_ready

from adapters.memory.keyed_cache import InMemoryResponseCache
from adapters.wire.codecs import residue
from adapters.wire.openai.request import parse_request
from adapters.wire.openai.response import encode_response
from application.request_config import base_config
from application.response_cache import ResponseCaching
from application.selection import Target
from application.settings import Settings
from domain.chat import ChatResponse, TextPart, Usage

BODY = {"model": "fake:fake-small", "max_tokens": 64,
        "messages": [{"role": "system", "content": "You are a concise assistant."},
                     {"role": "user", "content": "Give me three tips for writing a good benchmark."}]}


REDIS_PREFIX = f"bench-cache-{os.getpid()}-"


def forget_redis_keys(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{REDIS_PREFIX}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    data = sorted(samples)
    return data[len(data) // 2], data[min(len(data) - 1, int(0.99 * len(data)))]


async def in_process(n: int = 20_000) -> tuple[float, float]:
    settings = Settings.model_validate({
        "providers": {"fake": {"kind": "openai", "api_key": "k", "models": {"fake-small": {}}}},
        "prompt_cache": {"enabled": True}})
    caching = ResponseCaching(settings, InMemoryResponseCache(), residue=residue)
    config = base_config(settings)
    raw = orjson.dumps(BODY)
    plan = caching.plan(parse_request(orjson.loads(raw)), "chat_completions", config)
    assert plan is not None
    answer = ChatResponse(id="chatcmpl-1", model="fake-small", created=1,
                          content=[TextPart("1. Warm up. 2. Fix the rate. 3. Report percentiles. " * 4)],
                          usage=Usage(30, 40))
    await caching.save(plan, answer, Target("fake", "fake-small"))
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        request = parse_request(orjson.loads(raw))
        plan = caching.plan(request, "chat_completions", config)
        hit = await caching.lookup(plan) if plan is not None else None
        assert hit is not None
        orjson.dumps(encode_response(hit.response(), hit.target.provider))
        samples.append((time.perf_counter_ns() - t0) / 1e6)
    return percentiles(samples[n // 10:])


def with_header(raw: bytes, header: bytes) -> bytes:
    head, _, body = raw.partition(b"\r\n\r\n")
    return head + b"\r\n" + header + b"\r\n\r\n" + body


def row(name: str, r: Result) -> str:
    return (f"| {name} | {len(r.latencies_ms)} | {r.percentile(50):.2f} | {r.percentile(90):.2f} | "
            f"{r.percentile(99):.2f} | {r.percentile(50, r.ttfb_ms):.2f} | {r.errors} |")


def start_gateway(tmp: str, upstream: int, cache: dict[str, Any] | None, redis_url: str) -> tuple[int, Any]:
    port = free_port()
    config: dict[str, Any] = {
        "server": {"log_level": "warning"},
        "providers": {"fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{upstream}/v1", "api_key": "k",
                               "models": {"fake-small": {}}}},
    }
    if cache is not None:
        config["prompt_cache"] = cache
    if redis_url:
        config["redis"] = {"url": redis_url, "key_prefix": f"{REDIS_PREFIX}{port}:"}
    path = Path(tmp) / f"gateway-{port}.yaml"
    path.write_text(orjson.dumps(config).decode())
    process = subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(path), "--port", str(port)],
                               cwd=tmp, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wait_ready(port)
    return port, process


async def over_http(args: argparse.Namespace, cached: int, plain: int) -> None:
    body = orjson.dumps(BODY)
    hit = build_request("127.0.0.1", cached, "/v1/chat/completions", body)
    stream = build_request("127.0.0.1", cached, "/v1/chat/completions", orjson.dumps({**BODY, "stream": True}))
    miss = with_header(hit, b"Cache-Control: no-cache")
    off = build_request("127.0.0.1", plain, "/v1/chat/completions", body)
    models = f"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{cached}\r\n\r\n".encode()
    for port, raw in ((cached, hit), (cached, stream), (plain, off)):  # fill the cache, warm the pools
        await open_loop("127.0.0.1", port, raw, rate=200, duration_s=1, connections=8)
    print(f"\n### Over HTTP: {args.rate:.0f} req/s for {args.duration:.0f}s each, open loop, one worker "
          f"({'Redis' if args.redis_url else 'in-process'} store)\n")
    print("| request | n | p50 ms | p90 ms | p99 ms | p50 TTFB ms | errors |\n|---|---|---|---|---|---|---|")
    for name, port, raw in (("floor: GET /v1/models (no chat)", cached, models),
                            ("exact hit, plain", cached, hit), ("exact hit, stream", cached, stream),
                            ("miss (no-cache) to upstream", cached, miss), ("cache off, upstream", plain, off)):
        result = await open_loop("127.0.0.1", port, raw, rate=args.rate, duration_s=args.duration, connections=16)
        print(row(name, result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--redis-url", default="")
    args = parser.parse_args()

    p50, p99 = asyncio.run(in_process())
    print("### In process: parse + key + lookup + hit + encode (exact hit, in-memory store)\n")
    print(f"p50 {p50 * 1000:.0f} µs, p99 {p99 * 1000:.0f} µs")

    upstream = free_port()
    processes = [subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(upstream)])]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            wait_ready(upstream)
            cached, gw = start_gateway(tmp, upstream, {"enabled": True}, args.redis_url)
            processes.append(gw)
            plain, gw_off = start_gateway(tmp, upstream, None, "")
            processes.append(gw_off)
            try:
                import uvloop

                uvloop.install()
            except ImportError:
                pass
            asyncio.run(over_http(args, cached, plain))
        finally:
            for process in reversed(processes):
                process.terminate()
                process.wait(timeout=30)
            if args.redis_url:
                forget_redis_keys(args.redis_url)


if __name__ == "__main__":
    main()
