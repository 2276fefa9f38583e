"""Settings of the metered service: the database, API keys, credits and Stripe, per-key rate
limits, and the usage ledger with its export. Part of `application.settings.Settings`."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from application.strict import Strict


class DatabaseSettings(Strict):
    url: str = ""
    auto_migrate: bool = True

    @field_validator("url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        if value and not re.match(r"^[A-Za-z][A-Za-z0-9+]*://", value):
            raise ValueError("expected a database URL such as postgresql://user@host/db or sqlite:///path.db")
        return value


class AuthSettings(Strict):
    api_keys: bool = False
    admin_token: str = ""
    # Seconds a verified key may be reused without a store lookup. 0: every request reads the
    # store, so a revocation or budget change on any instance applies to the very next request.
    key_cache_ttl_s: float = Field(0.0, ge=0)
    # Seconds beyond the TTL a verified key keeps working while the key store (the database) is
    # unreachable. Unknown keys are refused with 503 during an outage; 0 refuses every key.
    key_cache_grace_s: float = Field(300.0, ge=0)


class CreditsSettings(Strict):
    enabled: bool = False
    currency: str = "USD"


class StripeSettings(Strict):
    secret_key: str = ""
    webhook_secret: str = ""
    api_base: str = ""


class RateLimitSettings(Strict):
    requests_per_minute: int = Field(1000, gt=0)
    # Enforce each provider's `rate_limit_rpm` (shared by all keys and instances).
    per_provider: bool = False
    # When the limiter's backend (Redis) fails: admit (true) or answer 503 (false).
    fail_open: bool = False


class UsageSettings(Strict):
    """Usage records: one per /v1 and /v1beta request, written in batches off the request path.

    `enabled` unset: on when the service is metered (API keys, credits) or a database is
    configured; off for a plain proxy on embedded defaults.
    """

    enabled: bool | None = None
    queue_size: int = Field(10_000, gt=0)  # records held in memory before spilling to the file
    # Shed load (503 ledger_overloaded, Retry-After) while this many records wait in memory and
    # the store is answering: the writer cannot keep up. 0: never shed (spill instead).
    shed_above: int = Field(2_000, ge=0)
    shed_retry_after_s: int = Field(1, gt=0)
    batch_size: int = Field(500, gt=0)  # a batch is written once this many records wait (or each flush interval)
    # The most records one batch (one transaction) takes when a backlog has built up.
    max_batch_size: int = Field(5_000, gt=0)
    flush_interval_ms: int = Field(200, gt=0)
    spill_path: str = ""  # default: var/usage-spill.jsonl next to the embedded database
    export: UsageExportSettings = Field(default_factory=lambda: UsageExportSettings())


class ClickHouseExportSettings(Strict):
    """A copy of every usage record the SQL ledger has written, sent to ClickHouse's HTTP
    interface in batches (the ledger never waits for it). Empty `url`: no export."""

    url: str = ""  # e.g. http://127.0.0.1:8123
    database: str = "default"
    table: str = "adaptive_proxy_usage"  # created when missing
    username: str = ""
    password: str = ""
    timeout_s: float = Field(10.0, gt=0)
    queue_size: int = Field(10_000, gt=0)  # records held in memory while ClickHouse is down, then spilled
    batch_size: int = Field(1000, gt=0)
    flush_interval_ms: int = Field(1000, gt=0)
    spill_path: str = ""  # default: var/clickhouse-spill.jsonl

    @field_validator("database", "table")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.replace("_", "").isalnum():
            raise ValueError("must be letters, digits and underscores")
        return value


class UsageExportSettings(Strict):
    clickhouse: ClickHouseExportSettings = Field(default_factory=ClickHouseExportSettings)
