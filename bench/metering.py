"""What metering costs on the request path, under increasing metering configurations.

Default (`inprocess`): the ASGI app is called directly, the upstream answered by
httpx2.MockTransport, and the process CPU time per request is measured (usage writes included:
the writer is flushed inside the measured span). No sockets, so the numbers hold on a busy host.
`--http`: saturation throughput of one uvicorn worker in front of the fake upstream.

  plain      usage recording, keys and admin API off: the metering middleware is not installed
  usage      usage.enabled: one usage record per request, batched into the embedded SQLite file
  keys       + API-key auth and the per-key rate limit (in-memory limiter)
  credits    + credit pre-flight (a balance read per request) and post-flight deduction
  redis      + the rate limit in Redis (if --redis-url is given)

Usage: .venv/bin/python bench/metering.py [--rounds 3] [--requests 3000]
       .venv/bin/python bench/metering.py --http [--duration 6] [--connections 32] [--redis-url URL]
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
    base["usage"] = {"enabled": mode != "plain"}
    if mode == "plain":
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


OK_BODY = orjson.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "fake-small",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                                    "finish_reason": "stop"}],
                       "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})


async def _asgi(app: Any, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         *headers], "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}
    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def inprocess_mode(mode: str, requests: int) -> float:
    """Process CPU microseconds per request."""
    import gc
    import resource

    import httpx2
    from dependency_injector import providers

    from adapters.config import settings_from_dict
    from container import build_container
    from entrypoints.http.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        settings = config(0, mode, "")
        settings["database"] = {"url": f"sqlite:///{tmp}/bench.db"}
        settings["providers"]["fake"]["base_url"] = "http://upstream.test/v1"
        container = build_container(settings_from_dict(settings))
        upstream = httpx2.MockTransport(lambda _: httpx2.Response(200, content=OK_BODY,
                                                                  headers={"content-type": "application/json"}))
        container.http_client.override(providers.Object(httpx2.AsyncClient(transport=upstream)))
        app = create_app(container)
        await app.start()
        admin = [(b"authorization", f"Bearer {ADMIN}".encode())]
        headers: list[tuple[bytes, bytes]] = []
        if mode in ("keys", "credits"):
            _, created = await _asgi(app, "/admin/api-keys", orjson.dumps(
                {"name": "bench", "organization_id": "bench", "rate_limit_rpm": 10**9}), admin)
            headers = [(b"authorization", b"Bearer " + orjson.loads(created)["key"].encode())]
        if mode == "credits":
            await _asgi(app, "/admin/credits/adjust", orjson.dumps(
                {"organization_id": "bench", "amount": 10**6, "type": "promotional"}), admin)
        body = orjson.loads(request(0, None).split(b"\r\n\r\n", 1)[1])
        raw = orjson.dumps(body)
        flush = container.metering.usage_writer().flush if mode != "plain" else None
        for _ in range(300):
            await _asgi(app, "/v1/chat/completions", raw, headers)
        if flush:
            await flush()
        gc.collect()
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(requests):
            status, _ = await _asgi(app, "/v1/chat/completions", raw, headers)
            assert status == 200, status
        if flush:
            await flush()
        after = resource.getrusage(resource.RUSAGE_SELF)
        await app.stop()
    return (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / requests * 1e6


def inprocess(args: argparse.Namespace) -> None:
    modes = ["plain", "usage", "keys", "credits"]
    results: dict[str, list[float]] = {m: [] for m in modes}
    for _ in range(args.rounds):
        for mode in modes:
            results[mode].append(asyncio.run(inprocess_mode(mode, args.requests)))
    plain = min(results["plain"])
    print("\n| mode | CPU per request (best of rounds) | added vs plain |\n|---|---|---|")
    for mode in modes:
        best = min(results[mode])
        print(f"| {mode} | {best:.0f} us | {best - plain:+.0f} us |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--http", action="store_true", help="through uvicorn and sockets instead")
    args = parser.parse_args()
    if not args.http:
        inprocess(args)
        return
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
