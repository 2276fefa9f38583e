"""A small HTTP/1.1 keep-alive load generator (raw asyncio + uvloop), fast enough not to be the
bottleneck on a 2-core machine. Open loop at a fixed rate, or closed loop for saturation."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent  # the venv's bin: adaptive-proxy lives beside this python


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed_s: float = 0.0
    ttfb_ms: list[float] = field(default_factory=list)

    def percentile(self, p: float, values: list[float] | None = None) -> float:
        data = sorted(self.latencies_ms if values is None else values)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(p / 100 * len(data)))]

    @property
    def throughput(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int) -> None:
    """Until something accepts connections on 127.0.0.1:`port` (20 s at most)."""
    for _ in range(400):
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def fake_provider_config(upstream_port: int, extra: dict[str, Any] | None = None,
                         models: dict[str, Any] | None = None) -> dict[str, Any]:
    """A gateway config whose one provider, `fake` (OpenAI kind), is the fake upstream on
    `upstream_port`; `extra` settings are merged in (its `server` section key by key)."""
    extra = extra or {}
    return {**extra, "server": {"log_level": "warning", **extra.get("server", {})},
            "providers": {"fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{upstream_port}/v1",
                                   "api_key": "k", "models": models or {"fake-small": {}}}}}


@contextmanager
def serving(config: dict[str, Any], tree: Path, upstream_port: int,
            gateway_port: int) -> Iterator[subprocess.Popen[bytes]]:
    """The fake upstream and `adaptive-proxy serve` of `tree`'s code with `config`, both quiet and
    ready; yields the gateway process and stops both on the way out."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(json.dumps(config))
        quiet: dict[str, Any] = {"env": {**os.environ, "PYTHONPATH": str(tree)}, "cwd": tmp,
                                 "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        upstream = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(upstream_port)],
                                    **quiet)
        gateway = subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(path),
                                    "--port", str(gateway_port)], **quiet)
        try:
            wait_ready(upstream_port)
            wait_ready(gateway_port)
            yield gateway
        finally:
            for proc in (gateway, upstream):
                proc.terminate()
                proc.wait(timeout=30)


def build_request(host: str, port: int, path: str, body: bytes) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer bench\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def request(self, raw: bytes) -> tuple[int, float]:
        """Send one request; return (status, time to first body byte in ms) after the full body."""
        start = time.perf_counter()
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        ttfb = (time.perf_counter() - start) * 1000
        status = int(head[9:12])
        lower = head.lower()
        if b"transfer-encoding: chunked" in lower:
            while True:
                size_line = await self.reader.readuntil(b"\r\n")
                size = int(size_line.strip(), 16)
                if size == 0:
                    await self.reader.readuntil(b"\r\n")
                    break
                if ttfb == 0:
                    ttfb = (time.perf_counter() - start) * 1000
                await self.reader.readexactly(size + 2)
        else:
            at = lower.find(b"content-length:")
            length = int(lower[at + 15: lower.find(b"\r\n", at)]) if at >= 0 else 0
            await self.reader.readexactly(length)
        return status, ttfb


async def _connect(host: str, port: int, count: int) -> list[Connection]:
    conns = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        conns.append(Connection(reader, writer))
    return conns


async def closed_loop(host: str, port: int, raw: bytes, *, connections: int, duration_s: float) -> Result:
    """As fast as possible: each connection sends its next request when the last one is answered."""
    result = Result()
    conns = await _connect(host, port, connections)
    stop = time.perf_counter() + duration_s

    async def worker(conn: Connection) -> None:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            status, ttfb = await conn.request(raw)
            result.latencies_ms.append((time.perf_counter() - t0) * 1000)
            result.ttfb_ms.append(ttfb)
            if status != 200:
                result.errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in conns))
    result.elapsed_s = time.perf_counter() - start
    for c in conns:
        c.writer.close()
    return result


async def open_loop(host: str, port: int, raw: bytes, *, rate: float, duration_s: float,
                    connections: int = 64) -> Result:
    """A fixed arrival rate: request i is due at i/rate; latency counts from when it was due."""
    result = Result()
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for conn in await _connect(host, port, connections):
        idle.put_nowait(conn)
    total = int(rate * duration_s)
    start = time.perf_counter()

    async def one(due: float) -> None:
        conn = await idle.get()
        status, ttfb = await conn.request(raw)
        result.latencies_ms.append((time.perf_counter() - due) * 1000)
        result.ttfb_ms.append(ttfb)
        if status != 200:
            result.errors += 1
        idle.put_nowait(conn)

    tasks = []
    for i in range(total):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    result.elapsed_s = time.perf_counter() - start
    while not idle.empty():
        idle.get_nowait().writer.close()
    return result
