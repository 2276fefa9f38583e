"""Credits, usage reports and credit purchases.

Usage is recorded by `application.metering` and written by the usage writer; the credit
deduction for a request happens in the same store transaction as its usage record (see
`domain.ports.UsageSink`), so it is exactly once per record. This module serves the admin API
and the payment processor's webhooks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.credits import CreditBalance, CreditTransaction, Grant, GrantType, money, valid_grant
from domain.errors import InvalidRequest, NotFound
from domain.payments import CheckoutRequest, CheckoutSession
from domain.ports import CreditLedger, PaymentEvents, UsageReader
from domain.usage import UsageRecord, UsageStats

log = logging.getLogger(__name__)
MAX_PAGE = 500


@dataclass(slots=True)
class PaymentOutcome:
    """What a webhook did: ignored (not a credit event), applied, or a replay of an applied one."""

    event_type: str
    handled: bool
    applied: bool = False
    transaction: CreditTransaction | None = None


def page(limit: int, offset: int) -> tuple[int, int]:
    if limit < 1 or limit > MAX_PAGE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE}", param="limit")
    if offset < 0:
        raise InvalidRequest("offset must not be negative", param="offset")
    return limit, offset


def parse_amount(value: Any, name: str = "amount") -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidRequest(f"{name} must be a positive number", param=name)
    try:
        amount = money(value)
        valid_grant(amount)
    except ValueError as exc:
        raise InvalidRequest(f"{name}: {exc}", param=name) from None
    return amount


class BillingService:
    """Balances, transactions, adjustments, usage reports, checkout and payment webhooks."""

    def __init__(self, ledger: CreditLedger, usage: UsageReader, payments: PaymentEvents | None = None,
                 currency: str = "USD") -> None:
        self._ledger = ledger
        self._usage = usage
        self._payments = payments
        self._currency = currency

    @property
    def currency(self) -> str:
        return self._currency

    async def balance(self, organization_id: str) -> CreditBalance:
        return await self._ledger.balance(organization_id)

    async def transactions(self, organization_id: str, limit: int = 50, offset: int = 0) -> list[CreditTransaction]:
        limit, offset = page(limit, offset)
        return await self._ledger.transactions(organization_id, limit, offset)

    async def adjust(self, organization_id: str, amount: Any, type: str, description: str = "",
                     metadata: dict[str, Any] | None = None, idempotency_key: str | None = None) -> tuple[
                         CreditTransaction, bool]:
        """An administrator's grant: promotional credits or a refund (purchases come from payments)."""
        if type not in ("promotional", "refund"):
            raise InvalidRequest("type must be 'promotional' or 'refund'", param="type")
        grant_type: GrantType = "promotional" if type == "promotional" else "refund"
        return await self._ledger.grant(Grant(
            organization_id=organization_id, amount=parse_amount(amount), type=grant_type,
            description=description, metadata=metadata or {}, idempotency_key=idempotency_key))

    async def usage_for_key(self, key_id: int, limit: int = 100, offset: int = 0) -> list[UsageRecord]:
        limit, offset = page(limit, offset)
        return await self._usage.for_key(key_id, limit, offset)

    async def stats_for_key(self, key_id: int, since: datetime | None = None) -> UsageStats:
        return await self._usage.stats_for_key(key_id, since)

    def _processor(self) -> PaymentEvents:
        if self._payments is None:
            raise NotFound("payments are not configured (stripe.secret_key / stripe.webhook_secret)")
        return self._payments

    async def checkout(self, organization_id: str, amount: Any, success_url: str, cancel_url: str,
                       customer_email: str | None = None) -> CheckoutSession:
        """Start a credit purchase; the credits arrive with the processor's webhook."""
        for name, url in (("success_url", success_url), ("cancel_url", cancel_url)):
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise InvalidRequest(f"{name} must be an http(s) URL", param=name)
        return await self._processor().create_checkout(CheckoutRequest(
            organization_id=organization_id, amount=parse_amount(amount), success_url=success_url,
            cancel_url=cancel_url, currency=self._currency.lower(), customer_email=customer_email))

    async def handle_payment(self, payload: bytes, signature: str | None) -> PaymentOutcome:
        """Verify a webhook and add its credits once per payment, however often it is delivered."""
        event = self._processor().parse(payload, signature)
        if event is None:
            return PaymentOutcome(event_type="", handled=False)
        transaction, applied = await self._ledger.grant(Grant(
            organization_id=event.organization_id, amount=event.credit_amount, type="purchase",
            description=f"credit purchase ({event.event_type})",
            metadata={"event_id": event.event_id, "event_type": event.event_type, "livemode": event.livemode},
            idempotency_key=f"payment:{event.payment_id}", stripe_payment_intent_id=event.payment_intent_id,
            stripe_checkout_session_id=event.checkout_session_id))
        if applied:
            log.info("added %s credits to %s for payment %s", event.credit_amount, event.organization_id,
                     event.payment_id)
        return PaymentOutcome(event_type=event.event_type, handled=True, applied=applied, transaction=transaction)
