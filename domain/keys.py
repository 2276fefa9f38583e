"""API keys: the format, the hashing rule, and whether a key may be used right now.

A key is `apk_` followed by 43 url-safe random characters (32 bytes of entropy). Only its
SHA-256 hex digest is stored, with a short display prefix so people can tell keys apart. The
plaintext exists once, in the answer to the request that created it.
"""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

KEY_PREFIX = "apk_"
KEY_RANDOM_BYTES = 32
KEY_RANDOM_CHARS = 43  # len(secrets.token_urlsafe(32))
KEY_LENGTH = len(KEY_PREFIX) + KEY_RANDOM_CHARS
DISPLAY_PREFIX_LENGTH = len(KEY_PREFIX) + 8
_URLSAFE = frozenset(string.ascii_letters + string.digits + "-_")

BudgetPeriod = Literal["daily", "weekly", "monthly"]
BUDGET_PERIODS: tuple[BudgetPeriod, ...] = ("daily", "weekly", "monthly")
KeyState = Literal["active", "inactive", "revoked", "expired"]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_RANDOM_BYTES)


def hash_key(key: str) -> str:
    """The stored form of a key. Keys carry 256 random bits, so a plain digest is enough."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def well_formed(key: str) -> bool:
    """Cheap syntactic check done before any lookup, so garbage never reaches the store."""
    return (len(key) == KEY_LENGTH and key.startswith(KEY_PREFIX)
            and all(c in _URLSAFE for c in key[len(KEY_PREFIX):]))


def period_start(period: BudgetPeriod | None, now: datetime) -> datetime:
    """Start (UTC) of the budget period containing `now`; a budget without a period never resets."""
    now = now.astimezone(UTC)
    if period is None:
        return EPOCH
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "daily":
        return day
    if period == "weekly":
        return day - timedelta(days=day.weekday())  # weeks start on Monday
    return day.replace(day=1)


@dataclass(slots=True)
class ApiKey:
    id: int
    name: str
    key_hash: str
    key_prefix: str
    organization_id: str | None = None
    rate_limit_rpm: int | None = None
    budget_limit: Decimal | None = None
    budget_period: BudgetPeriod | None = None
    # Spend inside the period starting at budget_period_start (maintained by the usage writer).
    budget_used: Decimal = Decimal(0)
    budget_period_start: datetime | None = None
    expires_at: datetime | None = None
    is_active: bool = True
    revoked_at: datetime | None = None
    created_at: datetime = EPOCH
    updated_at: datetime = EPOCH
    last_used_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def state(self, now: datetime) -> KeyState:
        if self.revoked_at is not None:
            return "revoked"
        if not self.is_active:
            return "inactive"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def budget_spent(self, now: datetime) -> Decimal:
        """What counts against the budget now: nothing once the stored period has rolled over."""
        if self.budget_period_start is None:
            return Decimal(0)
        if self.budget_period_start < period_start(self.budget_period, now):
            return Decimal(0)
        return self.budget_used

    def budget_exhausted(self, now: datetime, pending: Decimal = Decimal(0)) -> bool:
        """True when a budget is set and the period's spend (plus not-yet-written spend) reached it."""
        if self.budget_limit is None:
            return False
        return self.budget_spent(now) + pending >= self.budget_limit


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request runs as. Anonymous when API keys are off. Lives here, not
    with the access gate, so chat and cache code can name it without importing the gate."""

    key: ApiKey | None = None

    @property
    def organization_id(self) -> str | None:
        return self.key.organization_id if self.key else None


ANONYMOUS = Principal()
