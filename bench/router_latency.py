#!/usr/bin/env python
"""Decision latency of the built-in router (pure Python, one core).

    .venv/bin/python bench/router_latency.py [--data-dir ../shared/routing-data] [--n 5000]

Draws N prompts from routing-data/train/ (open7b questions, RouterBench few-shot prompts,
alpaca_eval instructions) with a fixed seed; 10% of them are made long by joining several
prompts up to 8k-100k characters (pasted documents, long conversations). Each decision is
`Router.choose` over a six-model catalog with a random cost_bias, timed with perf_counter_ns
after a warm-up. Prints p50 / p90 / p99 / max overall and by prompt length.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from adapters.routing import load_estimator  # noqa: E402
from domain.catalog import ModelInfo  # noqa: E402
from domain.routing import Router, RoutingInput  # noqa: E402

DEFAULT_DATA = (REPO / ".." / "shared" / "routing-data").resolve()

CATALOG = [
    ModelInfo("openai", "gpt-4o-mini", input_per_mtok=0.15, output_per_mtok=0.6),
    ModelInfo("openai", "gpt-4o", input_per_mtok=2.5, output_per_mtok=10.0, supports_vision=True),
    ModelInfo("anthropic", "claude-3-5-haiku", input_per_mtok=0.8, output_per_mtok=4.0, context_window=200_000),
    ModelInfo("anthropic", "claude-sonnet-4", input_per_mtok=3.0, output_per_mtok=15.0, context_window=200_000,
              supports_vision=True),
    ModelInfo("google", "gemini-2.5-flash", input_per_mtok=0.3, output_per_mtok=2.5, context_window=1_000_000),
    ModelInfo("google", "gemini-2.5-pro", input_per_mtok=1.25, output_per_mtok=10.0, context_window=1_000_000,
              supports_vision=True),
]


def train_prompts(data: Path) -> list[str]:
    train = data / "train"
    out: list[str] = []
    for path in sorted((train / "open7b").glob("*.json")):
        out.extend(r["question"] for r in json.loads(path.read_text()))
    csv.field_size_limit(1 << 30)
    for path in sorted((train / "routerbench").glob("*.csv")):
        with path.open(newline="") as fh:
            out.extend(r["prompt"] for r in csv.DictReader(fh))
    with (train / "alpaca_eval" / "prompts.csv").open(newline="") as fh:
        out.extend(r["instruction"] for r in csv.DictReader(fh))
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    t0 = time.perf_counter()
    estimator = load_estimator()
    load_ms = (time.perf_counter() - t0) * 1000
    router = Router(estimator)
    rng = random.Random(args.seed)
    pool = train_prompts(args.data_dir)
    prompts = []
    for _ in range(args.n):
        if rng.random() < 0.10:
            target = rng.choice([8_000, 20_000, 50_000, 100_000])
            parts: list[str] = []
            while sum(len(p) for p in parts) < target:
                parts.append(rng.choice(pool))
            prompts.append("\n\n".join(parts)[:target])
        else:
            prompts.append(rng.choice(pool))
    biases = [rng.random() for _ in prompts]

    for p in prompts[:200]:  # warm-up
        router.choose(CATALOG, RoutingInput(p), 0.5)
    times: list[float] = []
    for p, b in zip(prompts, biases, strict=True):
        start = time.perf_counter_ns()
        router.choose(CATALOG, RoutingInput(p), b)
        times.append((time.perf_counter_ns() - start) / 1e6)

    print(f"estimator load: {load_ms:.0f} ms (once, at startup)")
    print(f"{len(times)} decisions, prompts from {args.data_dir / 'train'}; "
          f"median prompt {statistics.median(len(p) for p in prompts):.0f} chars, "
          f"longest {max(len(p) for p in prompts)} chars\n")
    print("| prompts | n | p50 ms | p90 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    groups = [("all", lambda n: True), ("< 1k chars", lambda n: n < 1_000),
              ("1k-8k chars", lambda n: 1_000 <= n < 8_000), (">= 8k chars", lambda n: n >= 8_000)]
    for label, keep in groups:
        sel = [t for t, p in zip(times, prompts, strict=True) if keep(len(p))]
        if sel:
            print(f"| {label} | {len(sel)} | {pct(sel, 0.50):.3f} | {pct(sel, 0.90):.3f} | {pct(sel, 0.99):.3f} "
                  f"| {max(sel):.3f} |")


if __name__ == "__main__":
    main()
