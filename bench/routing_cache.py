#!/usr/bin/env python
"""What the routing-decision cache costs and saves on one routed decision (one core).

    .venv/bin/python bench/routing_cache.py [--n 3000] [--redis redis://127.0.0.1:6379/0]

Times `RoutingService.route` over the six-model catalog of bench/router_latency.py with the shipped
estimator, on train/ prompts (alpaca_eval instructions and open7b questions), in four modes:
no cache (the built-in router alone), cache miss (every prompt new: key + lookup + decision +
store), exact hit (the same prompts again), and — with --redis — miss and hit against a real
Redis. Prints p50 / p90 / p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import redis.asyncio as redis_asyncio  # noqa: E402
from router_latency import CATALOG, DEFAULT_DATA, train_prompts  # noqa: E402

from adapters.memory.breaker_store import InMemoryBreakerStore  # noqa: E402
from adapters.memory.keyed_cache import InMemoryRouteCache  # noqa: E402
from adapters.redis.keyed_cache import RedisRouteCache  # noqa: E402
from adapters.routing import load_estimator  # noqa: E402
from adapters.system_clock import SystemClock  # noqa: E402
from application.routing import BuiltinRouter, Guard, RoutingService  # noqa: E402
from application.settings import ModelRouterSettings  # noqa: E402
from domain.breaker import BreakerPolicy  # noqa: E402
from domain.ports import RouteCache  # noqa: E402
from domain.routing import Router, RoutingInput  # noqa: E402


async def timed(routing: RoutingService, prompts: list[str], options: ModelRouterSettings,
                expect: str) -> list[float]:
    out: list[float] = []
    for prompt in prompts:
        inp = RoutingInput(prompt=prompt)
        start = time.perf_counter_ns()
        routed = await routing.route(CATALOG, inp, 0.5, options)
        out.append((time.perf_counter_ns() - start) / 1e6)
        assert routed.source == expect, (routed.source, expect)
    return out


def line(name: str, values: list[float]) -> str:
    s = sorted(values)
    p50, p90, p99 = (s[min(len(s) - 1, int(q * len(s)))] for q in (0.5, 0.9, 0.99))
    return f"{name:<30} p50 {p50:6.3f}  p90 {p90:6.3f}  p99 {p99:6.3f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000)
    parser.add_argument("--redis", default="", help="also measure the Redis store at this URL")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    prompts = list(dict.fromkeys(p for p in train_prompts(args.data_dir) if p.strip()))[: args.n]
    builtin = BuiltinRouter(Router(load_estimator()), "bench")
    guard = Guard(InMemoryBreakerStore(), BreakerPolicy(), SystemClock())
    options = ModelRouterSettings()
    await timed(RoutingService(builtin), prompts[:200], options, "router")  # warm-up

    print(f"{len(prompts)} prompts, six-model catalog, cost_bias 0.5")
    print(line("no cache", await timed(RoutingService(builtin), prompts, options, "router")))
    stores: list[tuple[str, RouteCache]] = [("memory", InMemoryRouteCache())]
    client = redis_asyncio.Redis.from_url(args.redis) if args.redis else None
    if client is not None:
        stores.append(("redis", RedisRouteCache(client, prefix=f"bench-{uuid.uuid4().hex[:8]}:")))
    for name, store in stores:
        routing = RoutingService(builtin, guard=guard, cache=store)
        print(line(f"{name}: miss (decide + store)", await timed(routing, prompts, options, "router")))
        print(line(f"{name}: exact hit", await timed(routing, prompts, options, "cache_exact")))
    if client is not None:
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
