"""A worker that plans fallbacks with the gateway's rules: breakers, retries, next candidates.

    python examples/plan_fallback.py --down openai --recover-at 45 --requests 8 --every 10

Replays requests on a simulated clock (one every `--every` seconds) against three candidates;
providers named with `--down` fail until `--recover-at`. It uses only `domain.breaker` (the
circuit-breaker state machine, time passed in), `domain.fallback` (which candidate next, retry
or give up, how long to back off) and the in-memory `BreakerStore` adapter: no network, no
sleeping, no web framework.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Sequence
from typing import Any

from adapters.memory.breaker_store import InMemoryBreakerStore
from domain.breaker import BreakerPolicy
from domain.fallback import FallbackPolicy, backoff_delay, candidates, next_step

TARGETS = ["openai:gpt-4o", "anthropic:claude-sonnet-4-5", "gemini:gemini-2.5-pro"]
BREAKER = BreakerPolicy(failure_threshold=2, success_threshold=1, open_timeout_s=30.0)
FALLBACK = FallbackPolicy(mode="sequential", max_retries=1, backoff_s=0.5, max_candidates=3, timeout_s=20.0)


class Worker:
    def __init__(self, down: set[str], recover_at: float) -> None:
        self.store = InMemoryBreakerStore()  # the embedded BreakerStore; Redis shares it across workers
        self.down = down
        self.recover_at = recover_at

    def healthy(self, provider: str, now: float) -> bool:
        return provider not in self.down or now >= self.recover_at

    async def handle(self, start: float) -> dict[str, Any]:
        """One request: try the candidates in order, as the gateway's executor would."""
        now, steps = start, []
        for target in candidates(TARGETS, FALLBACK, manual=False, manual_may_fall_back=False):
            provider = target.partition(":")[0]
            attempt = 1
            while True:
                if not await self.store.admit(provider, BREAKER, now):
                    steps.append(f"{target}: skipped, breaker open")
                    break
                ok = self.healthy(provider, now)
                snap = await self.store.record(provider, ok, BREAKER, now)
                if ok:
                    steps.append(f"{target}: ok")
                    return {"t": start, "served_by": target, "steps": steps}
                wait = backoff_delay(attempt, FALLBACK, retry_after=None, jitter=0.5)
                step = next_step(retryable=True, attempt=attempt, policy=FALLBACK, wait_s=wait,
                                 remaining_s=FALLBACK.timeout_s - (now - start))
                steps.append(f"{target}: failed (breaker {snap.state}) -> {step}")
                if step == "stop":
                    return {"t": start, "served_by": None, "steps": steps}
                if step == "next":
                    break
                attempt += 1
                now += wait  # the simulated clock moves; nothing sleeps
        return {"t": start, "served_by": None, "steps": steps}


async def replay(down: set[str], recover_at: float, requests: int, every: float) -> list[dict[str, Any]]:
    worker = Worker(down, recover_at)
    return [await worker.handle(i * every) for i in range(requests)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Plan fallbacks with breakers on a simulated clock.")
    parser.add_argument("--down", action="append", default=[], help="a provider that fails, repeatable")
    parser.add_argument("--recover-at", type=float, default=float("inf"), help="seconds until it recovers")
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--every", type=float, default=10.0, help="seconds between requests")
    parser.add_argument("--json", action="store_true", help="print one JSON list")
    args = parser.parse_args(argv)
    results = asyncio.run(replay(set(args.down), args.recover_at, args.requests, args.every))
    if args.json:
        print(json.dumps(results))
        return 0
    for result in results:
        print(f"t={result['t']:>5.0f}s  {result['served_by'] or 'FAILED'}  <- {'; '.join(result['steps'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
