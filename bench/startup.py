"""Time from `adaptive-proxy serve` to a 200 on /health, on the embedded defaults plus one
provider (the fake upstream's address; nothing is called at start-up), and the import time of
`container` alone. Median of N runs, each a fresh process.

Usage: .venv/bin/python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import free_port  # noqa: E402

BIN = Path(sys.executable).parent
CONFIG = """
providers:
  fake: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: k, models: {fake-small: {}}}
"""


def serve_ready_s(config: Path, workdir: str) -> float:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen([str(BIN / "adaptive-proxy"), "serve", "--config", str(config), "--port", str(port)],
                            cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while time.perf_counter() - began < 60:
            if proc.poll() is not None:
                raise RuntimeError(f"the gateway exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=0.5) as reply:
                    if reply.status == 200:
                        return time.perf_counter() - began
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("the gateway did not become ready within 60 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def import_s() -> float:
    code = "import time; t = time.perf_counter(); import container; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "config.yaml"
        config.write_text(CONFIG)
        serve = [serve_ready_s(config, workdir) for _ in range(args.runs)]
    imports = [import_s() for _ in range(args.runs)]
    print(f"serve -> /health 200: median {statistics.median(serve):.2f} s "
          f"(min {min(serve):.2f}, max {max(serve):.2f}, {args.runs} runs)")
    print(f"import container:     median {statistics.median(imports):.2f} s "
          f"(min {min(imports):.2f}, max {max(imports):.2f})")
    print(f"load average: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
