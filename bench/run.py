"""Gateway overhead benchmark.

Starts the fake upstream (zero latency) and the gateway (one worker) as subprocesses, then
measures with bench/loadgen.py:
  - latency at a fixed rate (default 300 req/s), direct to the upstream and through the gateway;
    the added latency is gateway minus direct, per percentile;
  - saturation throughput (closed loop), non-streaming;
  - streaming time to first byte added by the gateway, same-format and cross-format;
  - the gateway's peak RSS.
Usage: .venv/bin/python bench/run.py [--rate 300] [--duration 10] [--connections 32]
With --workers N it measures instead saturation throughput with 1 worker and with N workers,
side by side (bench/workers.py): .venv/bin/python bench/run.py --workers 2
       .venv/bin/python bench/run.py --telemetry   # telemetry on (JSON access log + /metrics) vs off
       .venv/bin/python bench/run.py --compare /path/to/older/checkout   # that tree's gateway vs this one's
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

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import Result, build_request, closed_loop, free_port, open_loop, wait_ready

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def row(name: str, r: Result) -> str:
    return (f"| {name} | {len(r.latencies_ms)} | {r.throughput:,.0f} | {r.percentile(50):.2f} | "
            f"{r.percentile(90):.2f} | {r.percentile(99):.2f} | {r.errors} |")


async def measure(args: argparse.Namespace, up: int, gw: int, gw_pid: int) -> None:
    chat = {"messages": [{"role": "user", "content": "Say hello to the benchmark in a few words."}],
            "max_tokens": 32}
    direct = build_request("127.0.0.1", up, "/v1/chat/completions", orjson.dumps({**chat, "model": "fake-small"}))
    via = build_request("127.0.0.1", gw, "/v1/chat/completions", orjson.dumps({**chat, "model": "fake:fake-small"}))
    stream_direct = build_request("127.0.0.1", up, "/v1/chat/completions",
                                  orjson.dumps({**chat, "model": "fake-small", "stream": True}))
    stream_via = build_request("127.0.0.1", gw, "/v1/chat/completions",
                               orjson.dumps({**chat, "model": "fake:fake-small", "stream": True}))

    # warm up both paths (connection pools, JIT-free but caches and imports)
    await closed_loop("127.0.0.1", gw, via, connections=8, duration_s=2)
    await closed_loop("127.0.0.1", up, direct, connections=8, duration_s=1)

    print(f"\n### Fixed rate: {args.rate} req/s for {args.duration}s (open loop, latency from the due time)\n")
    print("| path | requests | req/s | p50 ms | p90 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|")
    d = await open_loop("127.0.0.1", up, direct, rate=args.rate, duration_s=args.duration)
    g = await open_loop("127.0.0.1", gw, via, rate=args.rate, duration_s=args.duration)
    print(row("direct to upstream", d))
    print(row("through gateway", g))
    print(f"\nAdded latency: p50 {g.percentile(50) - d.percentile(50):.2f} ms, "
          f"p90 {g.percentile(90) - d.percentile(90):.2f} ms, p99 {g.percentile(99) - d.percentile(99):.2f} ms")

    print(f"\n### Saturation: closed loop, {args.connections} connections, {args.duration}s\n")
    print("| path | requests | req/s | p50 ms | p90 ms | p99 ms | errors |\n|---|---|---|---|---|---|---|")
    s = await closed_loop("127.0.0.1", gw, via, connections=args.connections, duration_s=args.duration)
    print(row("through gateway (non-streaming)", s))

    print(f"\n### Streaming time to first byte at {args.stream_rate} req/s (same format)\n")
    sd = await open_loop("127.0.0.1", up, stream_direct, rate=args.stream_rate, duration_s=args.duration / 2)
    sg = await open_loop("127.0.0.1", gw, stream_via, rate=args.stream_rate, duration_s=args.duration / 2)
    print("| path | p50 TTFB ms | p99 TTFB ms | errors |\n|---|---|---|---|")
    print(f"| direct | {sd.percentile(50, sd.ttfb_ms):.2f} | {sd.percentile(99, sd.ttfb_ms):.2f} | {sd.errors} |")
    print(f"| gateway | {sg.percentile(50, sg.ttfb_ms):.2f} | {sg.percentile(99, sg.ttfb_ms):.2f} | {sg.errors} |")
    print(f"\nAdded TTFB p50 (same format, OpenAI -> OpenAI): "
          f"{sg.percentile(50, sg.ttfb_ms) - sd.percentile(50, sd.ttfb_ms):.2f} ms")

    print(f"\n### Cross-format streaming time to first byte at {args.stream_rate} req/s\n")
    anthropic_body = {"max_tokens": 32, "stream": True,
                      "messages": [{"role": "user", "content": "Say hello to the benchmark in a few words."}]}
    cross = {
        "Anthropic client -> OpenAI provider": ("/v1/messages", "fake:fake-small", anthropic_body),
        "OpenAI client -> Anthropic provider": ("/v1/chat/completions", "fake_anthropic:claude-fake",
                                                {**chat, "stream": True}),
    }
    print("| path | p50 TTFB ms | p99 TTFB ms | added p50 ms | errors |\n|---|---|---|---|---|")
    for name, (path, model, body) in cross.items():
        raw = build_request("127.0.0.1", gw, path, orjson.dumps({**body, "model": model}))
        r = await open_loop("127.0.0.1", gw, raw, rate=args.stream_rate, duration_s=args.duration / 2)
        print(f"| {name} | {r.percentile(50, r.ttfb_ms):.2f} | {r.percentile(99, r.ttfb_ms):.2f} | "
              f"{r.percentile(50, r.ttfb_ms) - sd.percentile(50, sd.ttfb_ms):.2f} | {r.errors} |")
    print(f"\nGateway peak RSS: {peak_rss_mb(gw_pid):.0f} MiB")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (robust to other load on a shared machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def compare(args: argparse.Namespace, up: int, gateways: dict[str, int], pids: dict[str, int],
                  title: str) -> None:
    """The same load on two gateways (the first is the baseline), interleaved in rounds; each round
    also measures the upstream directly at the fixed rate, so the latency the gateway adds is known,
    and streams at `--stream-rate` for the time to first byte."""
    chat = {"messages": [{"role": "user", "content": "Say hello to the benchmark in a few words."}],
            "max_tokens": 32, "model": "fake:fake-small"}
    raws = {name: build_request("127.0.0.1", port, "/v1/chat/completions", orjson.dumps(chat))
            for name, port in gateways.items()}
    direct_raw = build_request("127.0.0.1", up, "/v1/chat/completions", orjson.dumps({**chat, "model": "fake-small"}))
    streams = {name: build_request("127.0.0.1", port, "/v1/chat/completions", orjson.dumps({**chat, "stream": True}))
               for name, port in gateways.items()}
    for name, port in gateways.items():
        await closed_loop("127.0.0.1", port, raws[name], connections=8, duration_s=2)
    rounds = args.rounds
    saturation: dict[str, list[Result]] = {name: [] for name in gateways}
    fixed: dict[str, list[Result]] = {name: [] for name in gateways}
    streamed: dict[str, list[Result]] = {name: [] for name in gateways}
    direct: list[Result] = []
    cpu = {name: 0.0 for name in gateways}
    for i in range(rounds):  # the order flips each round, so drift of a shared machine cancels out
        direct.append(await open_loop("127.0.0.1", up, direct_raw, rate=args.rate, duration_s=args.duration / rounds))
        for name, port in (list(gateways.items()) if i % 2 == 0 else list(gateways.items())[::-1]):
            before = cpu_seconds(pids[name])
            saturation[name].append(await closed_loop("127.0.0.1", port, raws[name], connections=args.connections,
                                                      duration_s=args.duration / rounds))
            cpu[name] += cpu_seconds(pids[name]) - before
            fixed[name].append(await open_loop("127.0.0.1", port, raws[name], rate=args.rate,
                                               duration_s=args.duration / rounds))
            streamed[name].append(await open_loop("127.0.0.1", port, streams[name], rate=args.stream_rate,
                                                  duration_s=args.duration / rounds / 2))
    direct_p50 = merged(direct).percentile(50)
    print(f"\n### {title} ({rounds} interleaved rounds; saturation: {args.connections} connections; "
          f"fixed rate {args.rate} req/s; direct to the upstream p50 {direct_p50:.2f} ms)\n")
    print("| gateway | saturation req/s | fixed-rate p50 ms | p90 ms | p99 ms | added p50 ms | "
          "stream TTFB p50 ms | errors |\n|---|---|---|---|---|---|---|---|")
    summary: dict[str, tuple[float, float]] = {}
    for name in gateways:
        throughput = sum(r.throughput for r in saturation[name]) / rounds
        latency = merged(fixed[name])
        summary[name] = (throughput, latency.percentile(50))
        stream = merged(streamed[name])
        errors = latency.errors + stream.errors + sum(r.errors for r in saturation[name])
        print(f"| {name} | {throughput:,.0f} | {latency.percentile(50):.2f} | {latency.percentile(90):.2f} | "
              f"{latency.percentile(99):.2f} | {latency.percentile(50) - direct_p50:.2f} | "
              f"{stream.percentile(50, stream.ttfb_ms):.2f} | {errors} |")
    (base, candidate) = list(gateways)
    (base_t, base_p50), (new_t, new_p50) = summary[base], summary[candidate]
    print(f"\nThroughput change: {(new_t - base_t) / base_t * 100:+.1f} %; p50 change: {new_p50 - base_p50:+.3f} ms")
    per_request = {name: cpu[name] / max(1, sum(len(r.latencies_ms) for r in saturation[name])) * 1e6
                   for name in gateways}
    base_us, new_us = per_request[base], per_request[candidate]
    print(f"Gateway CPU per request at saturation: {base} {base_us:.0f} µs, {candidate} {new_us:.0f} µs "
          f"({new_us - base_us:+.1f} µs; a CPU-bound gateway's throughput {base_us / new_us * 100 - 100:+.1f} %)")
    ratios = sorted(n.throughput / b.throughput for n, b in zip(saturation[candidate], saturation[base], strict=True))
    deltas = sorted(n.percentile(50) - b.percentile(50) for n, b in zip(fixed[candidate], fixed[base], strict=True))
    print(f"Per round ({candidate} vs {base}, sorted): "
          f"throughput {', '.join(f'{(r - 1) * 100:+.1f} %' for r in ratios)}; "
          f"p50 {', '.join(f'{d:+.3f}' for d in deltas)} ms; median {(ratios[len(ratios) // 2] - 1) * 100:+.1f} %, "
          f"{deltas[len(deltas) // 2]:+.3f} ms")


def merged(results: list[Result]) -> Result:
    out = Result()
    for r in results:
        out.latencies_ms.extend(r.latencies_ms)
        out.ttfb_ms.extend(r.ttfb_ms)
        out.errors += r.errors
    return out


def install_uvloop() -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass


def side_by_side(args: argparse.Namespace, up: int, configs: dict[str, dict[str, Any]], title: str,
                 trees: dict[str, Path] | None = None) -> dict[str, str]:
    """The fake upstream on `up` and one gateway per entry of `configs` (the first is the baseline;
    `trees[name]`, when given, is the checkout whose code it runs), compared by `compare`. Each
    gateway's access lines go to a file, as a shipper would read them; returns each file's text."""
    ports = {name: free_port() for name in configs}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        procs = [subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(up)], env=env,
                                  cwd=ROOT)]
        logs = {name: Path(tmp) / f"{port}.log" for name, port in ports.items()}
        pids: dict[str, int] = {}
        for name, port in ports.items():
            path = Path(tmp) / f"{port}.yaml"
            path.write_text(orjson.dumps(configs[name]).decode())  # JSON is YAML
            tree_env = {**env, "PYTHONPATH": str(trees[name])} if trees else env
            with logs[name].open("wb") as log:
                procs.append(subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(path),
                                               "--port", str(port)], env=tree_env, cwd=tmp, stderr=log))
            pids[name] = procs[-1].pid
        try:
            for port in (up, *ports.values()):
                wait_ready(port)
            install_uvloop()
            asyncio.run(compare(args, up, ports, pids, title))
        finally:
            for proc in reversed(procs):
                proc.terminate()
                proc.wait(timeout=30)
        return {name: log.read_text() for name, log in logs.items()}


def trees_main(args: argparse.Namespace) -> None:
    """`--compare TREE`: a gateway running TREE's code (the baseline) beside one running this checkout's,
    both on the default configuration (telemetry on) behind one fake upstream."""
    up = free_port()
    trees = {f"before ({Path(args.compare).name})": Path(args.compare).resolve(), f"this tree ({ROOT.name})": ROOT}
    config = {"server": {"log_level": "warning"}, "providers": {"fake": {
        "kind": "openai", "base_url": f"http://127.0.0.1:{up}/v1", "api_key": "k",
        "models": {"fake-small": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}}}
    side_by_side(args, up, dict.fromkeys(trees, config), "Before vs this tree", trees)


def telemetry_main(args: argparse.Namespace) -> None:
    up = free_port()
    provider = {"kind": "openai", "base_url": f"http://127.0.0.1:{up}/v1", "api_key": "k",
                "models": {"fake-small": {"input_per_mtok": 1.0, "output_per_mtok": 2.0}}}
    servers = {
        "telemetry off": {"log_level": "warning", "access_log": False},
        "telemetry on": {"log_level": "warning", "access_log": True, "log_format": "json"},
    }
    configs = {name: {"server": server, "providers": {"fake": provider},
                      "telemetry": {"metrics": {"enabled": name == "telemetry on"}}}
               for name, server in servers.items()}
    lines = side_by_side(args, up, configs, "Telemetry off vs on")["telemetry on"].count("adaptive_proxy.access")
    print(f"\nAccess lines written by the telemetry-on gateway: {lines:,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds (--telemetry, --compare: default 6; --workers: default 2)")
    parser.add_argument("--telemetry", action="store_true",
                        help="compare a gateway with telemetry off and one with JSON access log + metrics on")
    parser.add_argument("--compare", metavar="TREE",
                        help="compare a gateway running TREE's code (e.g. a checkout of an older commit) with this one")
    parser.add_argument("--rate", type=float, default=300)
    parser.add_argument("--stream-rate", type=float, default=100)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=0, help="compare 1 worker with N (bench/workers.py)")
    parser.add_argument("--generator", choices=["auto", "wrk", "loadgen"], default="auto")
    parser.add_argument("--upstream", choices=["auto", "nginx", "fake"], default="auto")
    args = parser.parse_args()
    if args.workers:
        import workers

        args.rounds = args.rounds or 2
        workers.main(args)
        return
    if args.telemetry:
        args.rounds = args.rounds or 6
        telemetry_main(args)
        return
    if args.compare:
        args.rounds = args.rounds or 6
        trees_main(args)
        return
    up, gw = free_port(), free_port()
    config = {
        "server": {"log_level": "warning"},
        "providers": {
            "fake": {"kind": "openai", "base_url": f"http://127.0.0.1:{up}/v1", "api_key": "k",
                     "models": {"fake-small": {}}},
            "fake_anthropic": {"kind": "anthropic", "base_url": f"http://127.0.0.1:{up}", "api_key": "k",
                               "models": {"claude-fake": {}}},
        },
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(orjson.dumps(config).decode())  # JSON is YAML
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        upstream = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(up)], env=env,
                                    cwd=ROOT)
        log = (Path(tmp) / "gateway.log").open("wb")  # the access lines go to a file, as a shipper would read
        gateway = subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(path), "--port", str(gw)],
                                   env=env, cwd=tmp, stderr=log)
        try:
            wait_ready(up)
            wait_ready(gw)
            install_uvloop()
            asyncio.run(measure(args, up, gw, gateway.pid))
        finally:
            for proc in (gateway, upstream):
                proc.terminate()
                proc.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    main()
