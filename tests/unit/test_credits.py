"""Pricing arithmetic and credit rules (domain/credits.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.catalog import Catalog, ModelInfo
from domain.chat import Usage
from domain.credits import (
    CreditBalance,
    Grant,
    apply_grant,
    apply_usage,
    cost_usd,
    format_amount,
    from_units,
    money,
    preflight_allows,
    to_units,
    valid_grant,
)

GPT4O = ModelInfo("openai", "gpt-4o", input_per_mtok=2.5, output_per_mtok=10.0, cache_read_per_mtok=1.25)
SONNET = ModelInfo("anthropic", "claude-sonnet-4-5", input_per_mtok=3.0, output_per_mtok=15.0,
                   cache_read_per_mtok=0.3, cache_write_per_mtok=3.75)


def test_input_and_output_are_priced_per_million_tokens() -> None:
    assert cost_usd(Usage(input_tokens=1000, output_tokens=500), GPT4O) == (Decimal("0.0075"), False)


def test_cache_reads_are_charged_at_the_cache_read_price_not_the_input_price() -> None:
    cost, _ = cost_usd(Usage(input_tokens=1000, cache_read_tokens=800), GPT4O)
    assert cost == Decimal("0.0015")  # 200 x 2.5 + 800 x 1.25, per million


def test_cache_writes_have_their_own_price_and_default_to_the_input_price() -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=100, cache_write_tokens=400, output_tokens=10)
    cost, _ = cost_usd(usage, SONNET)
    assert cost == (Decimal(500 * 3) + Decimal(100) * Decimal("0.3") + Decimal(400) * Decimal("3.75")
                    + Decimal(10 * 15)) / 1_000_000
    plain = ModelInfo("x", "m", input_per_mtok=2.0)
    assert cost_usd(Usage(input_tokens=10, cache_write_tokens=10), plain)[0] == Decimal("0.00002")
    assert cost_usd(Usage(input_tokens=10, cache_read_tokens=10), plain)[0] == Decimal("0.00002")


def test_reasoning_tokens_are_output_tokens_and_not_charged_twice() -> None:
    assert cost_usd(Usage(output_tokens=100, reasoning_tokens=80), GPT4O)[0] == Decimal("0.001")


def test_arithmetic_is_exact() -> None:
    mini = ModelInfo("openai", "gpt-4o-mini", input_per_mtok=0.15, output_per_mtok=0.6)
    cost, _ = cost_usd(Usage(input_tokens=7, output_tokens=3), mini)
    assert cost == Decimal("0.00000285")
    assert sum((cost for _ in range(1000)), Decimal(0)) == Decimal("0.00285")


def test_dated_model_ids_resolve_to_their_base_entry() -> None:
    catalog = Catalog([GPT4O])
    dated = catalog.get("openai", "gpt-4o-2024-08-06")
    assert dated is GPT4O
    assert cost_usd(Usage(input_tokens=1000), dated) == cost_usd(Usage(input_tokens=1000), GPT4O)


def test_unknown_models_cost_nothing_and_are_flagged() -> None:
    assert cost_usd(Usage(input_tokens=10**6, output_tokens=10**6), None) == (Decimal(0), True)


def test_money_units_round_trip_exactly() -> None:
    for text in ("0", "0.0000000001", "12.5", "-3.0000000007", "99999999.9999999999"):
        amount = money(text)
        assert from_units(to_units(amount)) == amount
    assert to_units(money("0.0000000001")) == 1
    assert money(0.1) == Decimal("0.1")
    assert format_amount(money("12.50")) == "12.5"
    assert format_amount(money("1e-7")) == "0.0000001"
    with pytest.raises(ValueError):
        money("NaN")
    with pytest.raises(ValueError):
        money("ten")


def test_preflight_admits_only_a_positive_balance_net_of_pending_spend() -> None:
    assert preflight_allows(Decimal("0.0000000001"))
    assert not preflight_allows(Decimal(0))
    assert not preflight_allows(Decimal("-1"))
    assert not preflight_allows(Decimal(1), pending=Decimal(1))
    assert preflight_allows(Decimal(1), pending=Decimal("0.5"))


def test_postflight_deducts_the_full_cost_even_past_zero() -> None:
    balance = CreditBalance("org", balance=Decimal("0.01"))
    apply_usage(balance, Decimal("0.03"))
    assert balance.balance == Decimal("-0.02")
    assert balance.total_used == Decimal("0.03")


def test_only_purchases_count_as_purchased() -> None:
    balance = CreditBalance("org")
    apply_grant(balance, Grant("org", Decimal(10), "purchase"))
    apply_grant(balance, Grant("org", Decimal(5), "promotional"))
    apply_grant(balance, Grant("org", Decimal(1), "refund"))
    assert (balance.balance, balance.total_purchased) == (Decimal(16), Decimal(10))


@pytest.mark.parametrize("amount", ["0", "-1", "100000001"])
def test_grants_must_be_positive_and_bounded(amount: str) -> None:
    with pytest.raises(ValueError):
        valid_grant(Decimal(amount))
