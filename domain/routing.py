"""The built-in router: hard constraints first, then a prompt-dependent choice under cost_bias.

1. `capable` keeps the models that can serve the request at all: tools only to models that
   support tools, images only to vision models, and the prompt must fit the context window.
   If nothing is left, `NoCapableModel` names the constraint that eliminated the last models.
2. The capable models form a *ladder*: ordered by price, a model is a rung only if it is better
   (by quality prior) than every cheaper model, and only if it lies on the upper convex hull of
   (price, quality), i.e. its quality per extra dollar is worth having compared with mixing its
   neighbours. Rung 0 is the cheapest capable model, the top rung the best one (highest prior,
   the cheaper on ties).
3. The difficulty estimator gives d = P(a cheap model is not as good as a strong one). Climbing
   from rung j-1 to rung j happens when

       logit(d) > tau(cost_bias) + log(kappa_j / kappa)

   where kappa_j is the price of quality of that step (extra price / extra quality), kappa the
   same for the whole ladder (so expensive steps need harder prompts), and

       tau(b) = logit(reference) - logit(b)

   with `reference` the estimator's median training difficulty: at b = 0.5 a typical prompt
   climbs every step that costs no more than average. The chosen rung is the number of steps
   whose condition holds.

4. Features of the request that are not its text move logit(d) by a bounded, fixed amount, the
   `RoutingPrior`: `agentic` (an agent's turn: its boilerplate was recognised, or tools with a
   long system prompt; `domain.routing_text`) and `has_tools` (tools offered or used). So

       x = logit(d) + prior.agentic * [agentic] + prior.tools * [has_tools]

   replaces logit(d) above; each shift is at most `MAX_PRIOR_LOGIT` in size, so the text still
   decides (the estimator's logits span several units), and both default to 0: an agent's turn
   is judged on its task alone. The case for a positive `agentic` shift (a cheap model in an
   agent loop must also get tool calls right, step after step) has no data behind it — no
   routing-data set labels agent turns — and on the recorded agent requests
   (tests/fixtures/agent_requests) a +0.5 shift already moved "What is 2+2?" onto the model of
   the hard task at cost_bias 0.5 (v3 estimator, shipped catalogue). The YAML's
   `model_router.prior` sets the shifts. The reported difficulty is sigmoid(x), what the
   decision used.

Monotonicity, by construction: along the hull kappa_j increases with j, so the conditions form
a prefix and the chosen rung is #{j : x - log(kappa_j / kappa) > tau(b)}. tau strictly
decreases in b, and x (the prior's shift included) does not depend on b, so for a fixed prompt
the rung, hence the chosen model's quality, never decreases as cost_bias rises; over any set
of prompts the share sent to a model at or above any quality level therefore never decreases
either. b = 0 (tau = +inf) gives rung 0, the
cheapest capable model, for every prompt; b = 1 (tau = -inf) gives the top rung, the best.

Quality priors come from `ModelInfo.quality_prior()`. When no candidate has one, price order
stands in for quality. When only some do, a model without a prior is credited with the best
prior among the models that cost no more than it (the lowest known prior if none does), so it
is never assumed better than a cheaper model we know.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from domain.catalog import ModelInfo
from domain.errors import NoCapableModel

__all__ = [
    "MAX_PRIOR_LOGIT",
    "DifficultyScorer",
    "Router",
    "RoutingDecision",
    "RoutingInput",
    "RoutingPrior",
    "capable",
    "decision_for",
    "estimated_tokens",
    "ladder",
    "qualities",
]

_EPS = 1e-6
MAX_PRIOR_LOGIT = 1.0


class DifficultyScorer(Protocol):
    """What the router needs from `domain.difficulty.DifficultyEstimator`."""

    @property
    def reference(self) -> float: ...

    def score(self, prompt: str, turns: int = 1) -> float: ...


@dataclass(frozen=True, slots=True)
class RoutingInput:
    prompt: str
    turns: int = 1
    needs_tools: bool = False
    needs_vision: bool = False
    estimated_tokens: int = 0  # of the WHOLE request; 0: estimate from `prompt` with `estimated_tokens()`
    max_output_tokens: int = 0  # output the caller asks for; 0: not given
    agentic: bool = False  # an agent's turn (domain.routing_text): a feature, never a constraint
    has_tools: bool = False  # tools offered or tool calls / results in the conversation: a feature


@dataclass(frozen=True, slots=True)
class RoutingPrior:
    """Logit shifts of the difficulty for a request's features (module doc, step 4)."""

    agentic: float = 0.0
    tools: float = 0.0

    def __post_init__(self) -> None:
        for name in ("agentic", "tools"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value)) or abs(value) > MAX_PRIOR_LOGIT:
                raise ValueError(f"prior {name} must be a number between -{MAX_PRIOR_LOGIT} and {MAX_PRIOR_LOGIT}")

    def shift(self, inp: RoutingInput) -> float:
        return (self.agentic if inp.agentic else 0.0) + (self.tools if inp.has_tools else 0.0)

    @property
    def key(self) -> str:
        """A short id of a non-zero prior for cache keys ("" for none)."""
        return f"agentic={self.agentic!r},tools={self.tools!r}" if (self.agentic or self.tools) else ""


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    model: ModelInfo
    alternatives: tuple[ModelInfo, ...]  # the other capable models, in fallback order
    difficulty: float | None  # the estimator's score for the prompt, in [0, 1]; None if not estimated


def estimated_tokens(text: str) -> int:
    """A cheap token estimate for the context-window check: about four characters a token."""
    return (len(text) + 3) // 4


def capable(models: Sequence[ModelInfo], inp: RoutingInput) -> list[ModelInfo]:
    """The models that satisfy the request's hard constraints, in the given order."""
    pool = list(models)
    if not pool:
        raise NoCapableModel("no candidate models are configured for routing")
    if inp.needs_tools:
        pool = [m for m in pool if m.supports_tools]
        if not pool:
            raise NoCapableModel(f"the request uses tools, and none of the {len(models)} candidate models "
                                 "supports tools", code="no_capable_model")
    if inp.needs_vision:
        before = len(pool)
        pool = [m for m in pool if m.supports_vision]
        if not pool:
            which = "tool-capable candidate models" if inp.needs_tools else "candidate models"
            raise NoCapableModel(f"the request contains images, and none of the {before} {which} "
                                 "supports images", code="no_capable_model")
    if inp.max_output_tokens:
        before = len(pool)
        pool = [m for m in pool if m.max_output_tokens is None or m.max_output_tokens >= inp.max_output_tokens]
        if not pool:
            raise NoCapableModel(f"the request asks for {inp.max_output_tokens} output tokens, more than any of "
                                 f"the {before} remaining candidate models can produce", code="no_capable_model")
    tokens = inp.estimated_tokens or estimated_tokens(inp.prompt)
    fitting = [m for m in pool if m.context_window >= tokens]
    if not fitting:
        largest = max(m.context_window for m in pool)
        raise NoCapableModel(f"the prompt (about {tokens} tokens) does not fit the context window of any "
                             f"remaining candidate model (largest: {largest} tokens)",
                             code="no_capable_model")
    return fitting


def qualities(models: Sequence[ModelInfo]) -> list[float]:
    """Each model's quality for routing: its prior, or a price-based stand-in (module doc)."""
    priors = [m.quality_prior() for m in models]
    known = [(m.blended_price, q) for m, q in zip(models, priors, strict=True) if q is not None]
    if not known:
        prices = sorted({m.blended_price for m in models})
        rank = {p: i for i, p in enumerate(prices)}
        top = max(1, len(prices) - 1)
        return [rank[m.blended_price] / top for m in models]
    lowest = min(q for _, q in known)
    out: list[float] = []
    for m, q in zip(models, priors, strict=True):
        if q is None:
            cheaper = [kq for kp, kq in known if kp <= m.blended_price]
            q = max(cheaper) if cheaper else lowest
        out.append(q)
    return out


def ladder(models: Sequence[ModelInfo]) -> list[tuple[ModelInfo, float]]:
    """The rungs (model, quality), cheapest first: the upper convex hull of price vs quality."""
    qs = qualities(models)
    order = sorted(range(len(models)), key=lambda i: (models[i].blended_price, -qs[i], i))
    frontier: list[tuple[ModelInfo, float]] = []
    for i in order:
        if not frontier or qs[i] > frontier[-1][1]:
            if frontier and models[i].blended_price == frontier[-1][0].blended_price:
                continue  # same price, and sorted so the better one came first
            frontier.append((models[i], qs[i]))
    hull: list[tuple[ModelInfo, float]] = []
    for point in frontier:
        while len(hull) >= 2:
            (a, qa), (b, qb) = hull[-2], hull[-1]
            pa, pb, pc = a.blended_price, b.blended_price, point[0].blended_price
            # drop b if it lies on or below the segment a -> point
            if (qb - qa) * (pc - pa) <= (point[1] - qa) * (pb - pa):
                hull.pop()
            else:
                break
        hull.append(point)
    return hull


def _logit(p: float) -> float:
    p = min(1.0 - _EPS, max(_EPS, p))
    return math.log(p / (1.0 - p))


def _fallback_order(chosen: ModelInfo, q_chosen: float, others: list[tuple[ModelInfo, float]]) -> tuple[ModelInfo, ...]:
    """At-least-as-good models first (closest quality, then cheaper), then worse ones, best first."""
    def key(item: tuple[ModelInfo, float]) -> tuple[int, float, float]:
        m, q = item
        if q >= q_chosen:
            return (0, q, m.blended_price)
        return (1, -q, m.blended_price)

    return tuple(m for m, _ in sorted(others, key=key) if m is not chosen)


def decision_for(chosen: ModelInfo, pool: Sequence[ModelInfo], difficulty: float | None) -> RoutingDecision:
    """`chosen` (one of the capable `pool`), with the rest of the pool in fallback order."""
    qs = qualities(pool)
    q_chosen = qs[list(pool).index(chosen)]
    others = [(m, q) for m, q in zip(pool, qs, strict=True) if m is not chosen]
    return RoutingDecision(model=chosen, alternatives=_fallback_order(chosen, q_chosen, others), difficulty=difficulty)


class Router:
    """Chooses a model per request: `choose(models, inp, cost_bias)` (module doc for the rule)."""

    def __init__(self, estimator: DifficultyScorer, prior: RoutingPrior | None = None) -> None:
        self._estimator = estimator
        self._prior = prior if prior is not None else RoutingPrior()
        self._center = _logit(estimator.reference)

    @property
    def prior(self) -> RoutingPrior:
        return self._prior

    @property
    def estimator(self) -> DifficultyScorer:
        return self._estimator

    def thresholds(self, models: Sequence[ModelInfo]) -> list[tuple[ModelInfo, float]]:
        """The rungs with the logit offset of the step that reaches each (rung 0: -inf)."""
        rungs = ladder(models)
        if len(rungs) == 1:
            return [(rungs[0][0], -math.inf)]
        (m0, q0), (mk, qk) = rungs[0], rungs[-1]
        overall = (mk.blended_price - m0.blended_price) / (qk - q0)
        out: list[tuple[ModelInfo, float]] = [(m0, -math.inf)]
        for (a, qa), (b, qb) in itertools.pairwise(rungs):
            kappa = (b.blended_price - a.blended_price) / (qb - qa)
            out.append((b, math.log(kappa / overall) if kappa > 0 and overall > 0 else 0.0))
        return out

    def rung(self, offsets: Sequence[float], difficulty: float, cost_bias: float) -> int:
        """Index of the chosen rung for a prompt of this difficulty (0 = cheapest)."""
        if cost_bias <= 0.0:
            return 0
        if cost_bias >= 1.0:
            return len(offsets) - 1
        tau = self._center - _logit(cost_bias)
        x = _logit(difficulty)
        return sum(1 for off in offsets[1:] if x - off > tau)

    def choose(self, models: Sequence[ModelInfo], inp: RoutingInput, cost_bias: float) -> RoutingDecision:
        """The model for this request; raises `NoCapableModel` if the hard constraints leave none."""
        pool = capable(models, inp)
        difficulty = min(1.0, max(0.0, self._estimator.score(inp.prompt, inp.turns)))
        shift = self._prior.shift(inp)
        if shift:
            difficulty = 1.0 / (1.0 + math.exp(-(_logit(difficulty) + shift)))
        steps = self.thresholds(pool)
        index = self.rung([off for _, off in steps], difficulty, cost_bias)
        return decision_for(steps[index][0], pool, difficulty)
