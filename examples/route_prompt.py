"""Which model would the built-in router pick for a prompt? Domain rules and the params file only.

    python examples/route_prompt.py --cost-bias 0.5 "Prove that there are infinitely many primes"
    echo "hi" | python examples/route_prompt.py --cost-bias 0 --json

No gateway, no container, no network: `domain.routing.Router` with the shipped difficulty
estimator, over a small catalog of `domain.catalog.ModelInfo`, and `domain.credits` to price the
choice for an expected reply length.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from adapters.routing.params_file import load_estimator
from domain.catalog import ModelInfo
from domain.chat import Usage
from domain.credits import cost_usd, format_amount
from domain.errors import NoCapableModel
from domain.routing import Router, RoutingInput, estimated_tokens

# USD per million tokens; quality priors for these names ship with domain.catalog.
CATALOG = [
    ModelInfo("openai", "gpt-4o-mini", input_per_mtok=0.15, output_per_mtok=0.6),
    ModelInfo("gemini", "gemini-2.5-flash", input_per_mtok=0.3, output_per_mtok=2.5, supports_vision=True),
    ModelInfo("openai", "gpt-4o", input_per_mtok=2.5, output_per_mtok=10.0, supports_vision=True),
    ModelInfo("anthropic", "claude-sonnet-4-5", input_per_mtok=3.0, output_per_mtok=15.0, context_window=200_000,
              supports_vision=True),
]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ask the built-in router which model it would use.")
    parser.add_argument("prompt", nargs="?", help="the prompt (default: read from stdin)")
    parser.add_argument("--cost-bias", type=float, default=0.5, help="0 = cheapest capable ... 1 = best")
    parser.add_argument("--tools", action="store_true", help="the request uses tools")
    parser.add_argument("--images", action="store_true", help="the request contains images")
    parser.add_argument("--reply-tokens", type=int, default=500, help="expected reply length, for the price")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--params", type=Path, help="difficulty params JSON (default: the shipped file)")
    args = parser.parse_args(argv)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read()

    router = Router(load_estimator(args.params))
    inp = RoutingInput(prompt=prompt, needs_tools=args.tools, needs_vision=args.images)
    try:
        decision = router.choose(CATALOG, inp, args.cost_bias)
    except NoCapableModel as exc:
        print(f"route_prompt: {exc.message}", file=sys.stderr)
        return 1
    cost, _ = cost_usd(Usage(input_tokens=estimated_tokens(prompt), output_tokens=args.reply_tokens), decision.model)
    result: dict[str, Any] = {"model": decision.model.key, "difficulty": round(decision.difficulty, 3),
              "fallbacks": [m.key for m in decision.alternatives], "estimated_cost_usd": format_amount(cost)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['model']}  (difficulty {result['difficulty']}, about ${result['estimated_cost_usd']})")
        print(f"fallbacks: {', '.join(result['fallbacks']) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
