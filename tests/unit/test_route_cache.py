"""Routing-decision cache rules (domain.route_cache): keys, buckets and reuse of a stored decision."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domain.catalog import ModelInfo
from domain.route_cache import CachedRoute, rebuild, route_bucket, route_key, to_entry
from domain.routing import RoutingDecision, RoutingInput, capable

SMALL = ModelInfo("cheap", "small", 0.1, 0.4, context_window=1000, supports_tools=False, quality=0.5)
MID = ModelInfo("mid", "medium", 1.0, 3.0, quality=0.7)
LARGE = ModelInfo("dear", "large", 5.0, 15.0, supports_vision=True, quality=0.9)
MODELS = [SMALL, MID, LARGE]
INP = RoutingInput(prompt="What is the capital of France?")


def test_the_key_is_hex_sha256_and_stable() -> None:
    key = route_key(MODELS, INP, 0.5, "builtin")
    assert len(key) == 64 and int(key, 16) >= 0
    assert route_key(MODELS, INP, 0.5, "builtin") == key
    assert route_key(list(reversed(MODELS)), INP, 0.5, "builtin") == key  # candidate order does not matter


@pytest.mark.parametrize("change", [
    lambda m, i, b, r: (m, replace(i, prompt=i.prompt + "!"), b, r),
    lambda m, i, b, r: (m, replace(i, turns=2), b, r),
    lambda m, i, b, r: (m, replace(i, needs_tools=True), b, r),
    lambda m, i, b, r: (m, replace(i, needs_vision=True), b, r),
    lambda m, i, b, r: (m, replace(i, agentic=True), b, r),
    lambda m, i, b, r: (m, replace(i, has_tools=True), b, r),
    lambda m, i, b, r: (m, i, 0.51, r),
    lambda m, i, b, r: (m, i, b, "external:http://router"),
    lambda m, i, b, r: (m[:2], i, b, r),
    lambda m, i, b, r: ([replace(m[0], input_per_mtok=0.2), *m[1:]], i, b, r),
    lambda m, i, b, r: ([replace(m[0], quality=0.6), *m[1:]], i, b, r),
    lambda m, i, b, r: ([replace(m[0], context_window=2000), *m[1:]], i, b, r),
])
def test_every_decision_input_changes_the_key(change) -> None:
    assert route_key(*change(MODELS, INP, 0.5, "builtin")) != route_key(MODELS, INP, 0.5, "builtin")


def test_the_bucket_ignores_only_the_prompt() -> None:
    other = replace(INP, prompt="Name the capital city of France.")
    assert route_bucket(MODELS, other, 0.5, "builtin") == route_bucket(MODELS, INP, 0.5, "builtin")
    assert route_bucket(MODELS, INP, 0.7, "builtin") != route_bucket(MODELS, INP, 0.5, "builtin")
    assert route_bucket(MODELS, replace(INP, needs_tools=True), 0.5, "builtin") != route_bucket(
        MODELS, INP, 0.5, "builtin")


def test_an_entry_rebuilds_the_same_decision() -> None:
    decision = RoutingDecision(MID, (LARGE, SMALL), 0.42)
    entry = to_entry(decision, "router", stored_at=5.0)
    assert entry == CachedRoute("mid:medium", ("dear:large", "cheap:small"), 0.42, "router", 5.0)
    assert entry.provider == "mid"
    assert rebuild(entry, capable(MODELS, INP)) == decision


def test_a_choice_that_no_longer_fits_is_not_reused() -> None:
    entry = CachedRoute("cheap:small", ("mid:medium",), 0.1, "router")
    assert rebuild(entry, capable(MODELS, replace(INP, needs_tools=True))) is None  # small has no tools
    assert rebuild(entry, capable(MODELS, replace(INP, estimated_tokens=5000))) is None  # beyond small's window
    assert rebuild(entry, capable([MID, LARGE], INP)) is None  # no longer a candidate


def test_alternatives_keep_their_order_and_new_candidates_follow() -> None:
    entry = CachedRoute("dear:large", ("gone:model", "cheap:small"), None, "external")
    decision = rebuild(entry, capable(MODELS, INP))
    assert decision is not None
    assert decision.model == LARGE
    assert decision.alternatives == (SMALL, MID)
    assert decision.difficulty is None
