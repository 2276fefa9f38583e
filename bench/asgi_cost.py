"""Gateway CPU per plain chat request without the HTTP server: the app is driven as ASGI in-process.

Starts the fake upstream as a subprocess, builds the gateway app of TREE (default: this checkout)
in this process and sends it N OpenAI chat requests one after another through ASGI scope/receive/send
(uvicorn and the client's sockets are not in the figure; the upstream call is, over loopback; the
logging is configured as `serve` does, into a file, so the access line is).
Prints CPU µs per request (process_time) and, with --profile, the functions by own time and the
total number of Python function calls per request (deterministic, so a fair comparison between
trees on a noisy machine):

    .venv/bin/python bench/asgi_cost.py /path/to/old --profile
    .venv/bin/python bench/asgi_cost.py --profile

EXTRA='{"server": {"access_log": false}}' merges settings into the gateway's config.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from loadgen import BIN, fake_provider_config, free_port, wait_ready  # noqa: E402

BODY = orjson.dumps({"model": "fake:fake-small", "max_tokens": 32,
                     "messages": [{"role": "user", "content": "Say hello to the benchmark."}]})


def scope(port: int) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": "/v1/chat/completions", "raw_path": b"/v1/chat/completions",
            "query_string": b"", "root_path": "", "server": ("127.0.0.1", port), "client": ("127.0.0.1", 50000),
            "headers": [(b"host", f"127.0.0.1:{port}".encode()), (b"content-type", b"application/json"),
                        (b"content-length", str(len(BODY)).encode()), (b"authorization", b"Bearer x")]}


async def one(app: Any, port: int) -> int:
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope(port), receive, send)
    return status


def log_to_file(tree: Path, settings: Any, path: Path) -> None:
    """The process's logging as `serve` configures it (so the access line is in the figure), into `path`
    (a tree from before adapters.telemetry.logs existed logs nothing)."""
    try:
        from adapters.telemetry import logs
    except ImportError:
        return
    if not Path(logs.__file__).resolve().is_relative_to(tree):  # the installed checkout's, not TREE's
        return
    stderr = sys.stderr
    sys.stderr = path.open("w")  # configure_logging's handler writes to the sys.stderr of the moment
    try:
        logs.configure_logging(settings.server)
    finally:
        sys.stderr = stderr


async def run(tree: Path, up: int, n: int, profile: bool, dump: str | None = None) -> None:
    sys.path.insert(0, str(tree))
    from adapters.config import load_settings
    from container import build_container
    from entrypoints.http.app import create_app

    config = fake_provider_config(up, json.loads(os.environ.get("EXTRA", "{}")))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(orjson.dumps(config).decode())
        os.chdir(tmp)
        settings = load_settings(str(path))
        log_to_file(tree, settings, Path(tmp) / "gateway.log")
        app = create_app(build_container(settings))
        await app.start()
        for _ in range(300):  # warm up
            assert await one(app, 8000) == 200
        profiler = cProfile.Profile() if profile else None
        started = time.process_time()
        if profiler:
            profiler.enable()
        for _ in range(n):
            await one(app, 8000)
        if profiler:
            profiler.disable()
        spent = time.process_time() - started
        await app.stop()
    print(f"{tree.name}: {n} requests, {1e6 * spent / n:.0f} us CPU/request{' (profiled)' if profile else ''}")
    if profiler:
        stats = pstats.Stats(profiler)
        calls = sum(v[1] for v in stats.stats.values())  # type: ignore[attr-defined]
        print(f"{calls / n:.0f} Python function calls per request")
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(40)
        print(out.getvalue())
        if dump:
            stats.dump_stats(dump)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tree", nargs="?", default=str(HERE.parent))
    parser.add_argument("-n", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", help="with --profile: write the pstats file here")
    args = parser.parse_args()
    up = free_port()
    upstream = subprocess.Popen([str(BIN / "adaptive-proxy"), "fake-upstream", "--port", str(up)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(up)
        asyncio.run(run(Path(args.tree).resolve(), up, args.n, args.profile, args.dump))
    finally:
        upstream.terminate()
        upstream.wait(timeout=30)


if __name__ == "__main__":
    main()
