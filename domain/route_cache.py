"""Routing-decision cache rules: the key of a decision, what is stored, and when it may be reused.

Pure functions; the stores (ports.RouteCache, the same store shapes as the response cache) and
the use case (application.routing) build on them.

A decision depends on the prompt (the routing text of `domain.routing_text`), the conversation's
turns, its hard needs (tools, vision) and features (agentic, has tools), the
`cost_bias`, the candidate models with every catalog field that the policy reads (prices,
quality, context window, capabilities), and which router decides (the built-in estimator's
version, or the external router's URL). The semantic bucket is the SHA-256 of all of these but the
prompt, and the exact key the SHA-256 of the bucket and the prompt, so a semantic hit can only come
from a decision made for the same candidates, needs, bias and router.

An entry stores model ids, never ModelInfo: a reused decision is rebuilt from the request's own
capable candidates (`rebuild`), and is not reused when its chosen model is not among them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass

from domain.catalog import ModelInfo
from domain.routing import RoutingDecision, RoutingInput

KEY_VERSION = 2  # 2: the prompt is the routing text, the features are in the bucket


@dataclass(frozen=True, slots=True)
class CachedRoute:
    """A stored decision: the chosen model and its alternatives as `provider:model` ids."""

    model: str
    alternatives: tuple[str, ...]
    difficulty: float | None
    decided_by: str  # "router" or "external": who made the decision that was stored
    stored_at: float = 0.0

    @property
    def provider(self) -> str:
        return self.model.partition(":")[0]


@functools.lru_cache(maxsize=256)
def _models_digest(models: tuple[ModelInfo, ...]) -> str:
    """The candidates, order-free (a request reuses its endpoint's catalog: memoised)."""
    text = json.dumps(sorted(astuple(m) for m in models), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def route_bucket(models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float, router_id: str) -> str:
    """The semantic bucket: everything of the key but the prompt."""
    # Every field but the last has a fixed format without "|": the joined text is unambiguous.
    context = (f"{KEY_VERSION}|{float(cost_bias)!r}|{inp.turns}|{inp.needs_tools:d}{inp.needs_vision:d}"
               f"{inp.agentic:d}{inp.has_tools:d}|"
               f"{_models_digest(tuple(models))}|{router_id}")
    return hashlib.sha256(context.encode(errors="surrogatepass")).hexdigest()


def key_in_bucket(bucket: str, prompt: str) -> str:
    """The exact key (64 hex characters) of a decision: its bucket and the prompt."""
    return hashlib.sha256(f"{bucket}|{prompt}".encode(errors="surrogatepass")).hexdigest()


def route_key(models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float, router_id: str) -> str:
    return key_in_bucket(route_bucket(models, inp, cost_bias, router_id), inp.prompt)


def to_entry(decision: RoutingDecision, decided_by: str, stored_at: float) -> CachedRoute:
    return CachedRoute(model=decision.model.key, alternatives=tuple(m.key for m in decision.alternatives),
                       difficulty=decision.difficulty, decided_by=decided_by, stored_at=stored_at)


def rebuild(entry: CachedRoute, pool: Sequence[ModelInfo]) -> RoutingDecision | None:
    """The stored decision over this request's capable candidates (`domain.routing.capable`);
    None when its choice is not among them (a semantic neighbour's prompt may have fitted a
    context window that this one does not). Alternatives keep their stored order; capable
    candidates the entry does not name follow in the pool's order.
    """
    by_key = {m.key: m for m in pool}
    chosen = by_key.pop(entry.model, None)
    if chosen is None:
        return None
    alternatives = [by_key.pop(k) for k in entry.alternatives if k in by_key]
    alternatives.extend(by_key.values())
    return RoutingDecision(model=chosen, alternatives=tuple(alternatives), difficulty=entry.difficulty)
