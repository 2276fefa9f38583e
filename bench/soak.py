"""Memory under sustained metered load: one gateway worker with API keys, credits and usage on
(embedded SQLite), driven at saturation by 32 keep-alive connections to the fake upstream;
the gateway's RSS is sampled every `--every` requests. The figure: RSS growth after warm-up
(the first sample) to the end.

`--trace N1,N2`: run the gateway under tracemalloc (bench/traced_gateway.py) and print the
allocation sites that grew most between the snapshots taken at N1 and N2 requests (slower: the
RSS figures of a traced run are not the bar's).

Usage: .venv/bin/python bench/soak.py [--requests 100000] [--every 10000] [--connections 32]
       .venv/bin/python bench/soak.py --requests 60000 --trace 20000,60000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
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


def snapshot(pid: int, folder: Path, n: int) -> None:
    """Ask the traced gateway for snapshot n and wait until it is on disk (the gateway is busy
    writing it meanwhile, so requests stall, which is fine for a diagnosis)."""
    os.kill(pid, signal.SIGUSR1)
    path = folder / f"snapshot-{n}.bin"
    while not path.exists():
        time.sleep(0.05)


async def drive(port: int, raw: bytes, total: int, every: int, connections: int, pid: int,
                trace_at: tuple[int, ...] = (), trace_dir: Path | None = None) -> tuple[
        list[tuple[int, float, float]], int]:
    conns = await _connect("127.0.0.1", port, connections)
    sent, errors, samples = 0, 0, []
    statuses: dict[int, int] = {}
    started = time.perf_counter()

    async def worker(conn) -> None:  # type: ignore[no-untyped-def]
        nonlocal sent, errors
        while sent < total:
            sent += 1
            number = sent  # this request's number (the counter moves on while it is in flight)
            status, _ = await conn.request(raw)
            if status != 200:
                errors += 1
                statuses[status] = statuses.get(status, 0) + 1
            if number in trace_at and trace_dir is not None:
                snapshot(pid, trace_dir, trace_at.index(number) + 1)
            if number % every == 0:
                samples.append((number, rss_mib(pid), number / (time.perf_counter() - started)))

    await asyncio.gather(*(worker(c) for c in conns))
    for c in conns:
        c.writer.close()
    if statuses:
        print("non-200 by status:", statuses)
    return samples, errors


def print_growth(first: Path, last: Path, top: int = 15) -> None:
    import tracemalloc

    def load(path: Path) -> tracemalloc.Snapshot:
        return tracemalloc.Snapshot.load(str(path)).filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])

    before, after = load(first), load(last)
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    print(f"\ntraced Python memory growth between the snapshots: {total / 2**20:+.2f} MiB; top sites:")
    for stat in after.compare_to(before, "traceback")[:top]:
        print(f"{stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+7d} blocks")
        for line in stat.traceback.format(limit=6, most_recent_first=True):
            print("   ", line)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--every", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=0, help="usage.batch_size (default: the config's)")
    parser.add_argument("--shed-above", type=int, default=-1, help="usage.shed_above (default: the config's)")
    parser.add_argument("--trace", default="", help="N1,N2: tracemalloc snapshots at these request counts")
    args = parser.parse_args()
    trace_at = tuple(int(n) for n in args.trace.split(",")) if args.trace else ()
    upstream = free_port()
    up = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(upstream)], cwd=ROOT)
    port = free_port()
    try:
        wait_ready(upstream)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "soak.yaml"
            settings = config(upstream, "credits", "")
            if args.batch_size:
                settings["usage"]["batch_size"] = args.batch_size
            if args.shed_above >= 0:
                settings["usage"]["shed_above"] = args.shed_above
            path.write_text(orjson.dumps(settings).decode())
            command = [str(BIN / "adaptive-proxy")]
            if trace_at:
                command = [sys.executable, str(ROOT / "bench" / "traced_gateway.py")]
            gateway = subprocess.Popen([*command, "serve", "--config", str(path), "--port", str(port)], cwd=tmp,
                                       env={**os.environ, "PYTHONUNBUFFERED": "1", "SOAK_TRACE_DIR": tmp})
            try:
                wait_ready(port)
                key = prepare(port, "credits")
                samples, errors = asyncio.run(drive(port, request(port, key), args.requests, args.every,
                                                    args.connections, gateway.pid, trace_at, Path(tmp)))
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
                if trace_at:
                    print_growth(Path(tmp) / "snapshot-1.bin", Path(tmp) / f"snapshot-{len(trace_at)}.bin")
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
