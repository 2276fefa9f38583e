"""Cost of the dashboard's traffic observer on the request path, and of reading a window.

`TrafficStats.observe` runs once per finished request; this measures it per call (records with
varied latency, models and costs) and the time to build the 1 h and 24 h windows the dashboard
polls. Memory is bounded by `history_minutes` buckets whatever the traffic.
Usage: .venv/bin/python bench/traffic_stats.py [--records 200000]
"""

from __future__ import annotations

import argparse
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from application.traffic_stats import TrafficStats
from domain.telemetry import RequestRecord


class StepClock:
    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    records = [RequestRecord(f"r{i}", "openai", "/v1/chat/completions", 200 if i % 50 else 502,
                             provider=f"p{i % 3}", model=f"m{i % 7}", selection_source=("router", "manual")[i % 2],
                             total_ms=5.0 + (i % 400), upstream_ms=4.0 + (i % 400), input_tokens=100,
                             output_tokens=50, cost_usd=Decimal("0.0001"), best_cost_usd=Decimal("0.0004"))
               for i in range(1000)]
    clock = StepClock()
    stats = TrafficStats(clock)
    per_minute = max(1, args.records // (24 * 60))  # spread over a full day of buckets
    start = time.perf_counter()
    for i in range(args.records):
        clock.t = (i // per_minute) * 60.0
        stats.observe(records[i % 1000])
    observe_us = (time.perf_counter() - start) / args.records * 1e6
    print(f"observe: {observe_us:.2f} µs per record ({args.records} records over a day of buckets)")
    for minutes in (60, 24 * 60):
        timings = []
        for _ in range(2):  # the first read of a minute sums the closed minutes; later ones reuse it
            start = time.perf_counter()
            stats.window(minutes)
            timings.append((time.perf_counter() - start) * 1000)
        print(f"window {minutes} min: first read in a minute {timings[0]:.1f} ms, then {timings[1]:.1f} ms")


if __name__ == "__main__":
    main()
