"""Provider prompt caching priced right, cached-token counts kept across families, and gateway
cache hits recorded at zero cost and zero upstream tokens."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.wire.anthropic import request as anthropic_request
from adapters.wire.anthropic import response as aresp
from adapters.wire.anthropic import upstream as anthropic_body
from adapters.wire.gemini import response as gresp
from adapters.wire.gemini import upstream as gemini_body
from adapters.wire.openai import response as oresp
from adapters.wire.openai import upstream as openai_upstream
from application.metering import Metering, PendingSpend
from domain.cache_key import CachedResponse, served_from_cache
from domain.catalog import Catalog, ModelInfo
from domain.chat import ChatResponse, TextPart, Usage
from domain.credits import Prices, cost_usd
from domain.usage import UsageRecord

SONNET = ModelInfo("anthropic", "claude-sonnet", input_per_mtok=3.0, output_per_mtok=15.0,
                   cache_read_per_mtok=0.3, cache_write_per_mtok=3.75)
NO_CACHE_PRICES = ModelInfo("openai", "plain", input_per_mtok=2.0, output_per_mtok=8.0)


# --- cost arithmetic ---------------------------------------------------------------------------


def test_cached_tokens_are_charged_at_cache_prices_not_the_input_price() -> None:
    # 10_000 prompt tokens: 6_000 read from the cache, 1_000 written to it, 3_000 plain; 500 out.
    usage = Usage(input_tokens=10_000, cache_read_tokens=6_000, cache_write_tokens=1_000, output_tokens=500)
    cost, unknown = cost_usd(usage, SONNET)
    expected = (Decimal(3_000) * Decimal("3.0") + Decimal(6_000) * Decimal("0.3") + Decimal(1_000) * Decimal("3.75")
                + Decimal(500) * Decimal("15.0")) / Decimal(1_000_000)
    assert not unknown and cost == expected == Decimal("0.02205")
    all_input = cost_usd(Usage(input_tokens=10_000, output_tokens=500), SONNET)[0]
    assert cost < all_input


def test_cache_prices_default_to_the_input_price_when_the_catalog_has_none() -> None:
    usage = Usage(input_tokens=1_000, cache_read_tokens=400, cache_write_tokens=100)
    assert cost_usd(usage, NO_CACHE_PRICES)[0] == cost_usd(Usage(input_tokens=1_000), NO_CACHE_PRICES)[0]


def test_catalog_settings_carry_cache_prices_to_the_pricing_catalog() -> None:
    prices = Prices.of(Catalog([SONNET]).get("anthropic", "claude-sonnet"))  # type: ignore[arg-type]
    assert (prices.cache_read, prices.cache_write) == (Decimal("0.3"), Decimal("3.75"))


@pytest.mark.parametrize(("family", "raw", "expected"), [
    ("openai", {"prompt_tokens": 1000, "completion_tokens": 10,
                "prompt_tokens_details": {"cached_tokens": 800}}, (1000, 800, 0)),
    ("anthropic", {"input_tokens": 100, "cache_read_input_tokens": 800, "cache_creation_input_tokens": 100,
                   "output_tokens": 10}, (1000, 800, 100)),
    ("gemini", {"promptTokenCount": 1000, "cachedContentTokenCount": 800, "candidatesTokenCount": 10}, (1000, 800, 0)),
])
def test_provider_usage_shapes_are_priced_through_the_domain(family: str, raw: dict[str, Any],
                                                             expected: tuple[int, int, int]) -> None:
    usage = {"openai": oresp.parse_usage, "anthropic": aresp.parse_usage, "gemini": gresp.parse_usage}[family](raw)
    assert (usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens) == expected
    plain = expected[0] - expected[1] - expected[2]
    want = (Decimal(plain) * 3 + Decimal(expected[1]) * Decimal("0.3") + Decimal(expected[2]) * Decimal("3.75")
            + Decimal(10) * 15) / Decimal(1_000_000)
    assert cost_usd(usage, SONNET)[0] == want


# --- cached-token counts survive every family's usage shape -------------------------------------

PARSE = {"openai": oresp.parse_usage, "anthropic": aresp.parse_usage, "gemini": gresp.parse_usage}
ENCODE = {"openai": oresp.encode_usage, "anthropic": aresp.encode_usage, "gemini": gresp.encode_usage}


@pytest.mark.parametrize("family", list(ENCODE))
def test_cached_token_counts_round_trip_through_each_family(family: str) -> None:
    usage = Usage(input_tokens=1000, output_tokens=20, cache_read_tokens=700,
                  cache_write_tokens=100 if family == "anthropic" else 0)
    back = PARSE[family](ENCODE[family](usage))
    assert (back.input_tokens, back.cache_read_tokens, back.cache_write_tokens) == (
        usage.input_tokens, usage.cache_read_tokens, usage.cache_write_tokens)


def test_the_cache_tier_is_reported_in_each_familys_usage_object() -> None:
    tiered = Usage(cache_tier="exact")
    assert oresp.encode_usage(tiered)["cache_tier"] == "exact"
    assert aresp.encode_usage(tiered)["cache_tier"] == "exact"
    assert gresp.encode_usage(tiered)["cacheTier"] == "exact"
    assert "cache_tier" not in oresp.encode_usage(Usage())  # cache not in play: the body is unchanged


def test_a_passthrough_miss_keeps_the_upstream_usage_and_adds_the_tier() -> None:
    raw = {"id": "x", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6,
                                               "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0}}}
    response = ChatResponse(id="x", model="m", usage=Usage(5, 1, cache_tier="miss"), raw=raw, raw_family="openai")
    body = oresp.encode_response(response, "up")
    assert body["usage"] == {**raw["usage"], "cache_tier": "miss"} and "cache_tier" not in raw["usage"]


# --- Anthropic cache_control markers ------------------------------------------------------------

MARKED = {"model": "m", "max_tokens": 16,
          "system": [{"type": "text", "text": "long policy", "cache_control": {"type": "ephemeral"}}],
          "messages": [{"role": "user", "content": [
              {"type": "text", "text": "long document", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
              {"type": "text", "text": "question"}]}]}


def test_cache_control_passes_unchanged_to_anthropic_and_is_dropped_elsewhere() -> None:
    request = anthropic_request.parse_request(MARKED)
    same_family = anthropic_body.build_request(request, "claude", stream=False)
    assert same_family["system"] == MARKED["system"] and same_family["messages"] == MARKED["messages"]
    translated = anthropic_body.translated_body(request)
    assert translated["messages"][0]["content"][0]["cache_control"] == {"type": "ephemeral", "ttl": "1h"}
    assert "cache_control" not in str(openai_upstream.build_request(request, "gpt", stream=False))
    assert "cache_control" not in str(gemini_body.build_request(request))


# --- gateway cache hits in the usage ledger -----------------------------------------------------


class Queue:
    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def submit(self, record: UsageRecord) -> None:
        self.records.append(record)


def test_a_cache_hit_is_recorded_with_zero_upstream_tokens_and_zero_cost() -> None:
    queue = Queue()
    metering = Metering(queue, Catalog([SONNET]), PendingSpend())
    stored = CachedResponse(ChatResponse(id="r", model="claude-sonnet", content=[TextPart("hi")],
                                         usage=Usage(input_tokens=5000, output_tokens=900)),
                            "anthropic", "claude-sonnet")
    hit = served_from_cache(stored, "exact")
    meter = metering.start("/v1/messages")
    meter.cache_tier = "exact"
    meter.served("anthropic", "claude-sonnet", "cache_exact", hit.usage)
    record = meter.finish(200)
    assert record is not None
    assert (record.input_tokens, record.output_tokens, record.cost, record.cache_tier) == (0, 0, 0, "exact")
    assert record.selection_source == "cache_exact"
