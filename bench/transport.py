"""Client-side cost of the upstream transport (adapters/providers/transport.py).

Starts the fake upstream as a subprocess and sends requests through `FastTransport` from this
process: sequential and 32 concurrent, non-streaming and streaming. Reports this process's user CPU
time per request (robust on a busy machine, unlike wall time) and wall-clock throughput.
Usage: .venv/bin/python bench/transport.py [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from adapters.providers.transport import FastTransport

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import free_port

BIN = Path(sys.executable).parent
BODY = b'{"model":"m","messages":[{"role":"user","content":"hello there"}]}'
STREAM_BODY = b'{"model":"m","stream":true,"messages":[{"role":"user","content":"a b c d e f g h"}]}'


def _user_cpu() -> float:
    """User-mode CPU seconds of this process: the transport's own work, without the kernel's
    loopback time (which a busy machine inflates)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_utime


async def run(url: str, requests: int, concurrency: int, stream: bool) -> tuple[float, float]:
    async with httpx2.AsyncClient(transport=FastTransport()) as http:
        async def one() -> None:
            if stream:
                async with http.stream("POST", url, content=STREAM_BODY,
                                       headers={"content-type": "application/json"}) as reply:
                    async for _ in reply.aiter_raw():
                        pass
            else:
                reply = await http.post(url, content=BODY, headers={"content-type": "application/json"})
                assert reply.status_code == 200

        async def worker(n: int) -> None:
            for _ in range(n):
                await one()

        for _ in range(50):
            await one()  # warm up
        cpu, wall = _user_cpu(), time.perf_counter()
        await asyncio.gather(*(worker(requests // concurrency) for _ in range(concurrency)))
        cpu, wall = _user_cpu() - cpu, time.perf_counter() - wall
    done = requests // concurrency * concurrency
    return cpu / done * 1e6, done / wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        print("| case | client user CPU µs/request | req/s (wall) |\n|---|---|---|")
        for name, concurrency, stream in (("sequential", 1, False), ("32 concurrent", 32, False),
                                          ("32 concurrent, streaming", 32, True)):
            cpu, rate = asyncio.run(run(url, args.requests, concurrency, stream))
            print(f"| {name} | {cpu:.0f} | {rate:.0f} |")
    finally:
        upstream.terminate()
        upstream.wait()


if __name__ == "__main__":
    main()
