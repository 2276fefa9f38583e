"""Pricing arithmetic and the prepaid-credit rules.

Money is `Decimal` in the domain and an integer count of `QUANTUM` (1e-10 of the currency unit)
in storage, so every database adds and subtracts exactly (SQLite has no exact decimal type).

Credit rules:
- pre-flight: an organization may start a request only while its balance is > 0;
- post-flight: the request's full cost is deducted whatever the balance, so a balance can end
  below zero by the requests that were already admitted, and then admits nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Literal

from domain.catalog import ModelInfo
from domain.chat import Usage

QUANTUM = Decimal("1e-10")
_UNITS_PER = Decimal(10) ** 10
# Stored as 64-bit integers of 1e-10: balances stay far below 2**63 units (~9.2e8).
MAX_AMOUNT = Decimal(10) ** 8
_PER_MTOK = Decimal(1_000_000)
MAX_AMOUNT = Decimal(10) ** 8  # per transaction: far above any real purchase, far below overflow

TransactionType = Literal["purchase", "usage", "refund", "promotional"]
GrantType = Literal["purchase", "refund", "promotional"]
GRANT_TYPES: tuple[GrantType, ...] = ("purchase", "refund", "promotional")


def money(value: Decimal | str | int | float) -> Decimal:
    """Parse an amount (floats through their shortest repr) and round it to the quantum."""
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, ValueError):
        raise ValueError(f"{value!r} is not an amount") from None
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a finite amount")
    if abs(amount) >= MAX_AMOUNT:
        raise ValueError(f"{value!r} is too large (the ledger holds amounts below {MAX_AMOUNT})")
    return amount.quantize(QUANTUM, rounding=ROUND_HALF_UP)


def to_units(amount: Decimal) -> int:
    return int((amount * _UNITS_PER).to_integral_value(rounding=ROUND_HALF_UP))


def from_units(units: int) -> Decimal:
    return (Decimal(units) / _UNITS_PER).quantize(QUANTUM)


def format_amount(amount: Decimal) -> str:
    """`12.5`, `0.0000012`, `-3`: exact, never in exponent notation."""
    text = format(amount.quantize(QUANTUM), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _price(value: float | None, default: float) -> Decimal:
    return Decimal(str(default if value is None else value))


@dataclass(frozen=True, slots=True)
class Prices:
    """A model's prices per million tokens as exact decimals (cache prices default to input)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal

    @staticmethod
    def of(info: ModelInfo) -> Prices:
        """The prices of a catalog entry (remembered per entry: every priced request asks)."""
        return _prices_of(info)

    def cost(self, usage: Usage) -> Decimal:
        read = max(0, usage.cache_read_tokens)
        write = max(0, usage.cache_write_tokens)
        plain = max(0, usage.input_tokens - read - write)
        total = (plain * self.input + read * self.cache_read + write * self.cache_write
                 + max(0, usage.output_tokens) * self.output)
        return (total / _PER_MTOK).quantize(QUANTUM, rounding=ROUND_HALF_UP)


@lru_cache(maxsize=4096)
def _prices_of(info: ModelInfo) -> Prices:
    return Prices(input=Decimal(str(info.input_per_mtok)), output=Decimal(str(info.output_per_mtok)),
                  cache_read=_price(info.cache_read_per_mtok, info.input_per_mtok),
                  cache_write=_price(info.cache_write_per_mtok, info.input_per_mtok))


def cost_usd(usage: Usage, info: ModelInfo | None) -> tuple[Decimal, bool]:
    """(cost, priced_unknown). An unknown model costs 0 and is flagged so it can be found later.

    `usage.input_tokens` counts every prompt token; the cache-read and cache-write ones among
    them are charged at their own prices (each defaulting to the input price), the rest at the
    input price. Reasoning tokens are output tokens and are already in `output_tokens`.
    """
    if info is None:
        return Decimal(0), True
    return Prices.of(info).cost(usage), False


def preflight_allows(balance: Decimal, pending: Decimal = Decimal(0)) -> bool:
    """May a request start? Only while the balance, less spend not yet written, is above zero."""
    return balance - pending > 0


def valid_grant(amount: Decimal) -> None:
    if amount <= 0:
        raise ValueError("a credit grant must be a positive amount")
    if amount > MAX_AMOUNT:
        raise ValueError(f"a credit grant may not exceed {MAX_AMOUNT}")


@dataclass(slots=True)
class CreditBalance:
    organization_id: str
    balance: Decimal = Decimal(0)
    total_purchased: Decimal = Decimal(0)
    total_used: Decimal = Decimal(0)
    updated_at: datetime | None = None


@dataclass(slots=True)
class Grant:
    """Credits added to an organization. `idempotency_key` makes a repeated grant a no-op
    (a Stripe payment id: however often the webhook arrives, the credits are added once)."""

    organization_id: str
    amount: Decimal
    type: GrantType
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    stripe_payment_intent_id: str | None = None
    stripe_checkout_session_id: str | None = None


@dataclass(slots=True)
class CreditTransaction:
    id: int
    organization_id: str
    type: TransactionType
    amount: Decimal  # signed: grants positive, usage negative
    balance_after: Decimal
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    idempotency_key: str | None = None
    stripe_payment_intent_id: str | None = None
    stripe_checkout_session_id: str | None = None
    api_key_id: int | None = None
    api_usage_id: str | None = None


def apply_grant(balance: CreditBalance, grant: Grant) -> None:
    balance.balance += grant.amount
    if grant.type == "purchase":
        balance.total_purchased += grant.amount


def apply_usage(balance: CreditBalance, cost: Decimal) -> None:
    """Post-flight: the full cost, even past zero (the request was admitted and has been served)."""
    balance.balance -= cost
    balance.total_used += cost
