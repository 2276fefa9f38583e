"""The request gate (application/access.py) with in-memory adapters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from adapters.memory.credits import InMemoryCreditLedger
from adapters.memory.keys import InMemoryApiKeyStore
from adapters.memory.rate_limiter import InMemoryRateLimiter
from application.access import ANONYMOUS, AccessGate, RateLimitedProvider, RateLimitedProviderFactory
from application.keys import KeyService
from application.metering import PendingSpend
from application.metering_settings import RateLimitSettings
from application.settings import ProviderSettings, Settings
from domain.chat import ChatRequest, ChatResponse, Message, StreamEnd, StreamStart, TextPart
from domain.credits import Grant
from domain.errors import (
    AuthenticationFailed,
    PaymentRequired,
    ProviderRateLimited,
    RateLimited,
    ServiceUnavailable,
)
from domain.ratelimit import RateDecision
from domain.usage import UsageRecord
from tests.clock import FrozenClock


def settings(**sections: Any) -> Settings:
    return Settings.model_validate({"auth": {"api_keys": True}, **sections})


class Setup:
    def __init__(self, config: Settings) -> None:
        self.store = InMemoryApiKeyStore()
        self.keys = KeyService(self.store)
        self.ledger = InMemoryCreditLedger()
        self.pending = PendingSpend()
        self.clock = FrozenClock(0.0)
        self.limiter = InMemoryRateLimiter(clock=self.clock)
        self.gate = AccessGate(config, self.keys, self.limiter, self.ledger, self.pending)


async def test_with_keys_off_everyone_is_anonymous() -> None:
    gate = Setup(Settings()).gate
    assert not gate.active
    assert await gate.admit(None) is ANONYMOUS


async def test_a_valid_key_is_admitted_and_a_missing_one_is_not() -> None:
    s = Setup(settings())
    issued = await s.keys.issue("a", organization_id="acme")
    principal = await s.gate.admit(issued.plaintext)
    assert principal.key is not None and principal.organization_id == "acme"
    with pytest.raises(AuthenticationFailed):
        await s.gate.admit(None)


async def test_the_key_rpm_wins_over_the_default_and_429_carries_retry_after() -> None:
    s = Setup(settings(rate_limit={"requests_per_minute": 100}))
    issued = await s.keys.issue("a", rate_limit_rpm=2)
    await s.gate.admit(issued.plaintext)
    await s.gate.admit(issued.plaintext)
    with pytest.raises(RateLimited) as err:
        await s.gate.admit(issued.plaintext)
    assert err.value.retry_after == pytest.approx(60.0)  # both admissions leave the window a minute later
    other = await s.keys.issue("b")  # the default limit, its own bucket
    for _ in range(5):
        await s.gate.admit(other.plaintext)


async def test_budget_exhausted_is_402_counting_spend_not_yet_written() -> None:
    s = Setup(settings())
    issued = await s.keys.issue("a", budget_limit="1.00", budget_period="monthly")
    await s.gate.admit(issued.plaintext)
    s.pending.add(UsageRecord(id="u1", api_key_id=issued.key.id, cost=Decimal(1),
                              budget_period_start=issued.key.created_at))
    with pytest.raises(PaymentRequired, match="budget"):
        await s.gate.admit(issued.plaintext)


async def test_credit_preflight() -> None:
    s = Setup(settings(credits={"enabled": True}))
    orphan = await s.keys.issue("no org")
    with pytest.raises(PaymentRequired, match="no organization"):
        await s.gate.admit(orphan.plaintext)
    issued = await s.keys.issue("a", organization_id="acme")
    with pytest.raises(PaymentRequired, match="insufficient"):
        await s.gate.admit(issued.plaintext)
    await s.ledger.grant(Grant("acme", Decimal("0.5"), "promotional"))
    await s.gate.admit(issued.plaintext)
    spent = UsageRecord(id="u1", api_key_id=issued.key.id, organization_id="acme", cost=Decimal("0.5"),
                        charge_credits=True)
    s.pending.add(spent)
    with pytest.raises(PaymentRequired):
        await s.gate.admit(issued.plaintext)
    s.pending.settle([spent])  # the writer stored it (the balance itself is the test's to leave alone)
    await s.gate.admit(issued.plaintext)


class BrokenLimiter:
    async def acquire(self, key: str, limit: int, period_s: float = 60.0) -> RateDecision:
        raise ConnectionError("redis down")


@pytest.mark.parametrize("fail_open", [True, False])
async def test_a_broken_limiter_fails_open_or_closed_as_configured(fail_open: bool) -> None:
    s = Setup(settings(rate_limit={"fail_open": fail_open}))
    gate = AccessGate(settings(rate_limit={"fail_open": fail_open}), s.keys, BrokenLimiter(), s.ledger, s.pending)
    issued = await s.keys.issue("a")
    if fail_open:
        assert (await gate.admit(issued.plaintext)).key is not None
    else:
        with pytest.raises(ServiceUnavailable):
            await gate.admit(issued.plaintext)


class BrokenStore(InMemoryApiKeyStore):
    async def find_by_hash(self, key_hash: str) -> Any:
        raise OSError("database down")


async def test_a_broken_key_store_is_503_not_500() -> None:
    s = Setup(settings())
    issued = await s.keys.issue("a")
    gate = AccessGate(settings(), KeyService(BrokenStore()), s.limiter, s.ledger, s.pending)
    with pytest.raises(ServiceUnavailable):
        await gate.admit(issued.plaintext)


class Provider:
    name, kind = "up", "openai"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        self.calls += 1
        return ChatResponse(id="r", model=model)

    async def stream(self, request: ChatRequest, model: str):  # type: ignore[no-untyped-def]
        self.calls += 1
        yield StreamStart(id="r", model=model)
        yield StreamEnd(finish_reason="stop")

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        return 1

    async def aclose(self) -> None:
        pass


class Factory:
    def create(self, name: str, settings: ProviderSettings) -> Any:
        return Provider()


async def test_provider_limits_wrap_only_providers_with_an_rpm_when_enabled() -> None:
    limiter = InMemoryRateLimiter(clock=FrozenClock(0.0))
    limited = ProviderSettings(kind="openai", api_key="k", rate_limit_rpm=1)
    free = ProviderSettings(kind="openai", api_key="k")
    off = RateLimitedProviderFactory(Factory(), limiter, RateLimitSettings())
    assert isinstance(off.create("up", limited), Provider)
    on = RateLimitedProviderFactory(Factory(), limiter, RateLimitSettings(per_provider=True))
    assert isinstance(on.create("up", free), Provider)
    client = on.create("up", limited)
    assert isinstance(client, RateLimitedProvider)
    request = ChatRequest(model="m", messages=[Message(role="user", content=[TextPart("hi")])])
    await client.complete(request, "m")
    with pytest.raises(ProviderRateLimited) as err:
        await client.complete(request, "m")
    assert err.value.kind == "rate_limited" and err.value.retryable and not err.value.counts_against_provider
    with pytest.raises(ProviderRateLimited):
        async for _ in client.stream(request, "m"):
            pass
