"""Credit purchases through a payment processor: what we ask for and what it tells us back."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(slots=True)
class CheckoutRequest:
    organization_id: str
    amount: Decimal  # credits bought, paid 1:1 in `currency`
    success_url: str
    cancel_url: str
    currency: str = "usd"
    customer_email: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class CheckoutSession:
    id: str
    url: str | None
    organization_id: str
    amount: Decimal


@dataclass(slots=True)
class PaymentEvent:
    """A completed payment that adds `credit_amount` to `organization_id`.

    `payment_id` names the payment itself (the PaymentIntent when there is one), so the several
    events a processor sends for one payment, and its retries, all carry the same id.
    """

    event_id: str
    event_type: str
    payment_id: str
    organization_id: str
    credit_amount: Decimal
    payment_intent_id: str | None = None
    checkout_session_id: str | None = None
    livemode: bool = False
