"""Gateway CPU time per plain chat request, for comparing trees side by side on a noisy machine.

CPU seconds (utime + stime from /proc) the gateway process spends per request under a closed loop
of 8 connections to the fake upstream; much steadier than throughput when other jobs share the
cores. Give the checkout whose code the gateway runs (default: this one) and alternate:

    for round in 1 2 3; do for tree in /path/to/old /path/to/new; do
        .venv/bin/python bench/cpu_per_request.py $tree
    done; done

EXTRA='{"server": {"access_log": false}}' merges settings into the gateway's config.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import orjson

HERE = Path(__file__).resolve().parent
TREE = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else HERE.parent
sys.path.insert(0, str(HERE))
from loadgen import build_request, closed_loop, fake_provider_config, free_port, serving  # noqa: E402


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    up, gw = free_port(), free_port()
    config = fake_provider_config(up, json.loads(os.environ.get("EXTRA", "{}")))
    with serving(config, TREE, up, gw) as gateway:
        body = orjson.dumps({"model": "fake:fake-small", "max_tokens": 32,
                             "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})
        raw = build_request("127.0.0.1", gw, "/v1/chat/completions", body)
        asyncio.run(closed_loop("127.0.0.1", gw, raw, connections=8, duration_s=2))  # warm up
        before = cpu_s(gateway.pid)
        result = asyncio.run(closed_loop("127.0.0.1", gw, raw, connections=8, duration_s=6))
        spent = cpu_s(gateway.pid) - before
        n = len(result.latencies_ms)
        print(f"{TREE.name}: {n} requests, gateway CPU {1e6 * spent / n:.0f} us/request, errors {result.errors}")

if __name__ == "__main__":
    main()
