"""`bench/run.py --workers N`: saturation throughput of one gateway worker against N workers,
side by side in one run (alternating rounds), on the same machine as the load generator and the
upstream. Everything competes for the same cores, so each round also reports the CPU time taken
by the gateway (all its processes), the upstream and the generator.

To leave the gateway as much CPU as possible the upstream is nginx answering one canned OpenAI
chat completion (devtools/nginx.py) and the generator is `wrk` with one thread (both from
Debian: .ci/setup.d/60-nginx.sh); without wrk, bench/loadgen.py (Python) is used instead, and
`--upstream fake` uses the Python fake upstream."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from devtools import nginx  # noqa: E402

CHAT = {"messages": [{"role": "user", "content": "Say hello to the benchmark in a few words."}], "max_tokens": 32}
CANNED = {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1700000000, "model": "fake-small",
          "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello, benchmark!"},
                       "finish_reason": "stop"}],
          "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16}}
TICK = os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (from /proc/<pid>/task/*/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                todo.extend(int(c) for c in (task / "children").read_text().split())
            except OSError:
                pass
    return found


def cpu_by_process(pid: int) -> dict[int, float]:
    """User + system CPU seconds so far of each live process of a tree."""
    seconds = {}
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            seconds[p] = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        except (OSError, IndexError):
            pass
    return seconds


def cpu_seconds(pid: int) -> float:
    return sum(cpu_by_process(pid).values())


@dataclass
class Round:
    workers: int
    rps: float
    errors: int
    cpu: dict[str, float]  # role -> cores used on average during the measurement
    split: list[float]  # cores used by each gateway process (the supervisor included when there is one)


def _wrk(port: int, body: bytes, connections: int, duration: float, workdir: Path) -> subprocess.Popen[bytes]:
    script = workdir / "post.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = [[{body.decode()}]]\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      'wrk.headers["Authorization"] = "Bearer bench"\n')
    proc = subprocess.Popen(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "-s", str(script),
                             f"http://127.0.0.1:{port}/v1/chat/completions"], stdout=subprocess.PIPE)
    return proc


def _parse_wrk(out: str) -> tuple[float, int]:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*?(\d+) timeout", out)
    return rps, (int(bad.group(1)) if bad else 0) + (int(errors.group(1)) if errors else 0)


def _loadgen(port: int, body: bytes, connections: int, duration: float) -> tuple[float, int, float]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from loadgen import build_request, closed_loop

    raw = build_request("127.0.0.1", port, "/v1/chat/completions", body)
    before = time.process_time()
    result = asyncio.run(closed_loop("127.0.0.1", port, raw, connections=connections, duration_s=duration))
    return result.throughput, result.errors, time.process_time() - before


def _start_gateway(config: Path, port: int, workers: int, cwd: str) -> subprocess.Popen[bytes]:
    bin_dir = Path(sys.executable).parent
    proc = subprocess.Popen([str(bin_dir / "adaptive-proxy"), "serve", "--config", str(config), "--port", str(port),
                             "--workers", str(workers)], cwd=cwd, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    _wait_http(port, proc)
    return proc


def _wait_http(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gateway exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("gateway not ready")


def _one_round(workers: int, args: argparse.Namespace, config: Path, tmp: Path, upstream_pid: int) -> Round:
    from loadgen import free_port

    port = free_port()
    gateway = _start_gateway(config, port, workers, str(tmp))
    body = orjson.dumps({**CHAT, "model": "fake:fake-small"})
    try:
        _measure(port, body, args, tmp, duration=2)  # warm-up: connection pools, every worker
        gateway_before, upstream_before = cpu_by_process(gateway.pid), cpu_seconds(upstream_pid)
        started = time.monotonic()
        rps, errors, generator_cpu = _measure(port, body, args, tmp, duration=args.duration)
        wall = time.monotonic() - started
        gateway_after = cpu_by_process(gateway.pid)
        split = sorted(((v - gateway_before.get(p, 0.0)) / wall for p, v in gateway_after.items()), reverse=True)
        cpu = {"gateway": sum(split), "upstream": (cpu_seconds(upstream_pid) - upstream_before) / wall,
               "generator": generator_cpu / wall}
        return Round(workers, rps, errors, cpu, split)
    finally:
        gateway.terminate()
        gateway.wait(timeout=60)


def _measure(port: int, body: bytes, args: argparse.Namespace, tmp: Path, duration: float) -> tuple[float, int, float]:
    if args.generator == "wrk":
        proc = _wrk(port, body, args.connections, duration, tmp)
        cpu = 0.0
        while proc.poll() is None:  # sample its CPU just before it exits (after, /proc is gone)
            cpu = max(cpu, cpu_seconds(proc.pid))
            time.sleep(0.05)
        out = proc.stdout.read().decode() if proc.stdout else ""
        rps, errors = _parse_wrk(out)
        return rps, errors, cpu
    return _loadgen(port, body, args.connections, duration)


def main(args: argparse.Namespace) -> None:
    from loadgen import free_port, wait_ready

    if args.generator == "auto":
        args.generator = "wrk" if shutil.which("wrk") else "loadgen"
    if args.upstream == "auto":
        args.upstream = "nginx" if nginx.available() else "fake"
    up = free_port()
    providers = {"fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{up}/v1", "api_key": "k",
                          "models": {"fake-small": {}}}}
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        config = tmp / "bench.yaml"
        config.write_text(orjson.dumps({"server": {"log_level": "warning"}, "providers": providers}).decode())
        if args.upstream == "nginx":
            ctx = nginx.running(nginx.canned_config(tmp / "up", up, orjson.dumps(CANNED).decode()), tmp / "up", up)
            upstream = ctx.__enter__()
        else:
            upstream = subprocess.Popen([str(Path(sys.executable).parent / "adaptive-proxy"), "fake-upstream",
                                         "--port", str(up)], cwd=ROOT)
            wait_ready(up)
        try:
            rounds = [_one_round(w, args, config, tmp, upstream.pid)
                      for _ in range(args.rounds) for w in (1, args.workers)]
        finally:
            if args.upstream == "nginx":
                ctx.__exit__(None, None, None)
            else:
                upstream.terminate()
                upstream.wait(timeout=30)
    _report(rounds, args)


def _report(rounds: list[Round], args: argparse.Namespace) -> None:
    print(f"\n### Workers: 1 against {args.workers}, closed loop, {args.connections} connections, "
          f"{args.duration:g}s per round, generator {args.generator}, upstream {args.upstream}, "
          f"{os.cpu_count()} cores\n")
    print("| round | workers | req/s | errors | gateway cores (per process) | upstream cores | generator cores |")
    print("|---|---|---|---|---|---|---|")
    for i, r in enumerate(rounds):
        split = " + ".join(f"{c:.2f}" for c in r.split if c >= 0.005)
        print(f"| {i // 2 + 1} | {r.workers} | {r.rps:,.0f} | {r.errors} | {r.cpu['gateway']:.2f} ({split}) | "
              f"{r.cpu['upstream']:.2f} | {r.cpu['generator']:.2f} |")
    print(f"\nLoad average when done (other processes on the machine count too): {os.getloadavg()[0]:.2f}")
    one = [r.rps for r in rounds if r.workers == 1]
    many = [r.rps for r in rounds if r.workers == args.workers]
    ratio = (sum(many) / len(many)) / (sum(one) / len(one))
    per_core = [r.rps / r.cpu["gateway"] for r in rounds if r.cpu["gateway"] > 0]
    print(f"\nThroughput {args.workers} workers / 1 worker: {ratio:.2f}x (means of {len(one)} rounds each; "
          f"bar: >= 1.7x). Gateway req/s per core used: "
          + ", ".join(f"{x:,.0f}" for x in per_core))
