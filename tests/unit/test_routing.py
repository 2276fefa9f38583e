"""The built-in router: hard constraints, cost_bias extremes, monotonicity, fallbacks."""

from __future__ import annotations

import math

import pytest

from domain.catalog import ModelInfo
from domain.errors import NoCapableModel
from domain.routing import (
    MAX_PRIOR_LOGIT,
    Router,
    RoutingInput,
    RoutingPrior,
    capable,
    estimated_tokens,
    ladder,
    qualities,
)


class FakeEstimator:
    """Difficulty read from the prompt: 'd=0.73 ...' scores 0.73; anything else 0.5."""

    reference = 0.5

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def score(self, prompt: str, turns: int = 1) -> float:
        self.calls.append((prompt, turns))
        if prompt.startswith("d="):
            return float(prompt.split()[0][2:])
        return 0.5


def m(name: str, price: float, quality: float | None, *, tools: bool = True, vision: bool = False,
      ctx: int = 128_000) -> ModelInfo:
    return ModelInfo(provider="p", model=name, input_per_mtok=price, output_per_mtok=price,
                     context_window=ctx, supports_tools=tools, supports_vision=vision, quality=quality)


CHEAP = m("cheap", 0.1, 0.60, ctx=8_000)
MID = m("mid", 1.0, 0.80, vision=True, ctx=32_000)
BEST = m("best", 10.0, 0.95, tools=False, vision=True)
DOMINATED = m("dominated", 5.0, 0.70)  # dearer than MID and worse
MODELS = [BEST, DOMINATED, CHEAP, MID]

PROMPTS = [f"d={d:.2f} question" for d in (0.0, 0.01, 0.1, 0.3, 0.45, 0.5, 0.55, 0.7, 0.9, 0.99, 1.0)]
SWEEP = [i / 100 for i in range(101)]


def router() -> Router:
    return Router(FakeEstimator())


# ----------------------------------------------------------------- hard constraints


def test_capable_filters_by_tools_vision_and_context() -> None:
    assert capable(MODELS, RoutingInput("hi")) == MODELS
    assert BEST not in capable(MODELS, RoutingInput("hi", needs_tools=True))
    assert capable(MODELS, RoutingInput("hi", needs_vision=True)) == [BEST, MID]
    assert capable(MODELS, RoutingInput("hi", needs_tools=True, needs_vision=True)) == [MID]
    assert CHEAP not in capable(MODELS, RoutingInput("hi", estimated_tokens=10_000))
    long_prompt = "x" * 4 * 40_000  # about 40k tokens
    assert capable(MODELS, RoutingInput(long_prompt)) == [BEST, DOMINATED]


@pytest.mark.parametrize(
    ("models", "inp", "message"),
    [
        ([], RoutingInput("hi"), "no candidate models"),
        ([BEST], RoutingInput("hi", needs_tools=True), "uses tools"),
        ([CHEAP, DOMINATED], RoutingInput("hi", needs_vision=True), "contains images"),
        ([BEST, CHEAP], RoutingInput("hi", needs_tools=True, needs_vision=True), "tool-capable"),
        ([CHEAP, MID], RoutingInput("hi", estimated_tokens=50_000), "context window"),
    ],
)
def test_no_capable_model_says_which_constraint(models: list[ModelInfo], inp: RoutingInput, message: str) -> None:
    with pytest.raises(NoCapableModel, match=message) as info:
        router().choose(models, inp, 0.5)
    assert info.value.kind == "invalid_request"


def test_constraints_apply_before_the_choice() -> None:
    r = router()
    for b in SWEEP:
        assert r.choose(MODELS, RoutingInput("d=1.0 hard", needs_tools=True), b).model in (CHEAP, MID, DOMINATED)
        assert r.choose(MODELS, RoutingInput("d=0.0", needs_vision=True), b).model in (MID, BEST)


def test_estimated_tokens() -> None:
    assert estimated_tokens("") == 0
    assert estimated_tokens("abcd") == 1
    assert estimated_tokens("abcde") == 2
    r = router()
    assert r.choose(MODELS, RoutingInput("y" * 100_000), 0.0).model is MID  # 25k tokens: CHEAP is too small


# ----------------------------------------------------------------- cost_bias


def test_cost_bias_zero_is_cheapest_and_one_is_best_for_every_prompt() -> None:
    r = router()
    for p in PROMPTS:
        assert r.choose(MODELS, RoutingInput(p), 0.0).model is CHEAP
        assert r.choose(MODELS, RoutingInput(p), 1.0).model is BEST
        assert r.choose(MODELS, RoutingInput(p), -3.0).model is CHEAP  # clamped
        assert r.choose(MODELS, RoutingInput(p), 7.0).model is BEST


def test_best_ties_go_to_the_cheaper_model() -> None:
    twin = m("twin", 20.0, 0.95, vision=True)
    assert router().choose([twin, BEST, CHEAP], RoutingInput("d=1.0"), 1.0).model is BEST


def test_quality_never_decreases_as_cost_bias_rises() -> None:
    r = router()
    for p in PROMPTS:
        chosen = [r.choose(MODELS, RoutingInput(p), b).model for b in SWEEP]
        q = [c.quality or 0.0 for c in chosen]
        assert q == sorted(q), p
    expensive_share = []
    for b in SWEEP:
        picks = [r.choose(MODELS, RoutingInput(p), b).model for p in PROMPTS]
        expensive_share.append(sum(1 for x in picks if x is BEST) / len(picks))
    assert expensive_share == sorted(expensive_share)
    assert expensive_share[0] == 0.0 and expensive_share[-1] == 1.0


def test_harder_prompts_get_at_least_as_good_a_model() -> None:
    r = router()
    for b in (0.2, 0.4, 0.5, 0.6, 0.8):
        q = [r.choose(MODELS, RoutingInput(p), b).model.quality or 0.0 for p in PROMPTS]
        assert q == sorted(q), b
    # at a middling cost_bias the choice really depends on the prompt
    mid = {r.choose(MODELS, RoutingInput(p), 0.5).model.model for p in PROMPTS}
    assert len(mid) >= 2


def test_two_models_split_at_the_reference_when_cost_bias_is_half() -> None:
    r = router()
    pair = [CHEAP, MID]
    assert r.choose(pair, RoutingInput("d=0.45"), 0.5).model is CHEAP
    assert r.choose(pair, RoutingInput("d=0.55"), 0.5).model is MID


def test_dominated_model_is_never_chosen_but_kept_as_a_fallback() -> None:
    r = router()
    for p in PROMPTS:
        for b in SWEEP:
            d = r.choose(MODELS, RoutingInput(p), b)
            assert d.model is not DOMINATED
            assert DOMINATED in d.alternatives
    assert [x for x, _ in ladder(MODELS)] == [CHEAP, MID, BEST]


def test_alternatives_are_the_other_capable_models_better_ones_first() -> None:
    d = router().choose(MODELS, RoutingInput("d=0.5"), 0.5)
    assert set(d.alternatives) == set(MODELS) - {d.model}
    assert len(d.alternatives) == len(MODELS) - 1
    better = [x for x in d.alternatives if (x.quality or 0) >= (d.model.quality or 0)]
    assert list(d.alternatives[: len(better)]) == sorted(better, key=lambda x: x.quality or 0)
    worse = list(d.alternatives[len(better):])
    assert worse == sorted(worse, key=lambda x: -(x.quality or 0))


def test_decision_reports_difficulty_and_passes_turns() -> None:
    est = FakeEstimator()
    d = Router(est).choose(MODELS, RoutingInput("d=0.7 please", turns=3), 0.5)
    assert d.difficulty == pytest.approx(0.7)
    assert est.calls[-1] == ("d=0.7 please", 3)


def test_single_capable_model_is_chosen() -> None:
    d = router().choose(MODELS, RoutingInput("d=0.9", needs_tools=True, needs_vision=True), 1.0)
    assert d.model is MID and d.alternatives == ()


# ----------------------------------------------------------------- quality priors


def test_unknown_priors_fall_back_to_price_order() -> None:
    a, b, c = m("zz-unknown-a", 3.0, None), m("zz-unknown-b", 0.5, None), m("zz-unknown-c", 9.0, None)
    assert qualities([a, b, c]) == [0.5, 0.0, 1.0]
    r = router()
    assert r.choose([a, b, c], RoutingInput("d=0.5"), 0.0).model is b
    assert r.choose([a, b, c], RoutingInput("d=0.5"), 1.0).model is c


def test_catalog_default_priors_are_used() -> None:
    mini = ModelInfo("openai", "gpt-4o-mini-2024-07-18", input_per_mtok=0.15, output_per_mtok=0.6)
    big = ModelInfo("openai", "gpt-4o", input_per_mtok=2.5, output_per_mtok=10.0)
    assert qualities([mini, big]) == [0.72, 0.86]
    assert router().choose([big, mini], RoutingInput("d=0.5"), 1.0).model is big


def test_unknown_model_is_not_assumed_better_than_cheaper_known_ones() -> None:
    known_cheap, known_best = m("k1", 1.0, 0.7), m("k2", 2.0, 0.9)
    unknown = m("zz-new", 5.0, None)
    assert qualities([known_cheap, known_best, unknown]) == [0.7, 0.9, 0.9]
    assert router().choose([unknown, known_best, known_cheap], RoutingInput("d=0.9"), 1.0).model is known_best
    lone = m("zz-lone", 0.5, None)
    assert qualities([lone, known_best]) == [0.9, 0.9]


def test_thresholds_make_expensive_steps_need_harder_prompts() -> None:
    steps = router().thresholds(MODELS)
    assert [x for x, _ in steps] == [CHEAP, MID, BEST]
    offsets = [off for _, off in steps]
    assert offsets[0] == -math.inf
    assert offsets[1] < offsets[2]


# ----------------------------------------------------------------- feature prior


AGENT_PRIOR = RoutingPrior(agentic=MAX_PRIOR_LOGIT, tools=-0.5)


def test_the_default_prior_leaves_the_difficulty_alone() -> None:
    assert RoutingPrior() == RoutingPrior(agentic=0.0, tools=0.0)
    d = router().choose(MODELS, RoutingInput("d=0.3", agentic=True, has_tools=True), 0.5)
    assert d.difficulty == pytest.approx(0.3)


@pytest.mark.parametrize("value", [MAX_PRIOR_LOGIT + 0.01, -MAX_PRIOR_LOGIT - 1, math.inf, math.nan])
def test_a_prior_is_bounded(value: float) -> None:
    with pytest.raises(ValueError, match="between"):
        RoutingPrior(agentic=value)
    with pytest.raises(ValueError, match="between"):
        RoutingPrior(tools=value)


def test_the_prior_shifts_the_logit_of_the_flagged_features_only() -> None:
    r = Router(FakeEstimator(), AGENT_PRIOR)
    logit = math.log(0.3 / 0.7)
    for agentic, tools, shift in [(False, False, 0.0), (True, False, 1.0), (False, True, -0.5), (True, True, 0.5)]:
        d = r.choose(MODELS, RoutingInput("d=0.3", agentic=agentic, has_tools=tools), 0.5).difficulty
        assert d == pytest.approx(1 / (1 + math.exp(-(logit + shift)))), (agentic, tools)


def test_with_a_prior_quality_still_never_decreases_as_cost_bias_rises() -> None:
    r = Router(FakeEstimator(), AGENT_PRIOR)
    for p in PROMPTS:
        for agentic in (False, True):
            q = [r.choose(MODELS, RoutingInput(p, agentic=agentic), b).model.quality or 0.0 for b in SWEEP]
            assert q == sorted(q), (p, agentic)
            assert r.choose(MODELS, RoutingInput(p, agentic=agentic), 0.0).model is CHEAP
            assert r.choose(MODELS, RoutingInput(p, agentic=agentic), 1.0).model is BEST


def test_a_prior_never_overrides_the_hard_constraints() -> None:
    r = Router(FakeEstimator(), AGENT_PRIOR)
    for b in SWEEP[::10]:
        chosen = r.choose(MODELS, RoutingInput("d=1.0", needs_tools=True, agentic=True, has_tools=True), b).model
        assert chosen.supports_tools
        assert r.choose(MODELS, RoutingInput("d=0.0", estimated_tokens=20_000, agentic=True), b).model is not CHEAP
