"""Stripe through the official SDK: Checkout Sessions for credit purchases, and verified webhooks.

Each session carries `organization_id` and `credit_amount` in its metadata and in its
PaymentIntent's metadata, so both `checkout.session.completed` and `payment_intent.succeeded`
name the credits to add. Both events name the same PaymentIntent, which is the payment id the
ledger deduplicates on.
"""

from __future__ import annotations

import logging
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import stripe

from domain.credits import money
from domain.errors import InvalidRequest, InvalidSignature, UpstreamError
from domain.payments import CheckoutRequest, CheckoutSession, PaymentEvent

log = logging.getLogger(__name__)
SESSION_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
PAYMENT_INTENT_EVENTS = ("payment_intent.succeeded",)
PAID = ("paid", "no_payment_required")


def _cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


class StripePaymentEvents:
    def __init__(self, secret_key: str, webhook_secret: str, api_base: str = "",
                 http_client: stripe.HTTPClient | None = None, tolerance_s: int = 300) -> None:
        self._webhook_secret = webhook_secret
        self._tolerance = tolerance_s
        self._http = http_client or stripe.HTTPXClient()
        self._client = stripe.StripeClient(
            secret_key or "sk_unconfigured", base_addresses={"api": api_base} if api_base else {},
            http_client=self._http, max_network_retries=2)
        self._has_key = bool(secret_key)

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_checkout(self, checkout: CheckoutRequest) -> CheckoutSession:
        if not self._has_key:
            raise InvalidRequest("stripe.secret_key is not configured")
        cents = _cents(checkout.amount)
        if cents < 1:
            raise InvalidRequest("amount is below the smallest chargeable amount", param="amount")
        metadata = {**{k: str(v) for k, v in checkout.metadata.items()},
                    "organization_id": checkout.organization_id, "credit_amount": str(checkout.amount.normalize())}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{"quantity": 1, "price_data": {
                "currency": checkout.currency, "unit_amount": cents,
                "product_data": {"name": f"AdaptiveProxy credits: {checkout.amount.normalize()} "
                                         f"{checkout.currency.upper()}"}}}],
            "success_url": checkout.success_url,
            "cancel_url": checkout.cancel_url,
            "client_reference_id": checkout.organization_id,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        if checkout.customer_email:
            params["customer_email"] = checkout.customer_email
        try:
            session = await self._client.v1.checkout.sessions.create_async(params)  # type: ignore[arg-type]
        except stripe.InvalidRequestError as exc:
            raise InvalidRequest(f"stripe refused the checkout session: {exc.user_message or exc}") from None
        except stripe.StripeError as exc:
            raise UpstreamError(f"stripe: {type(exc).__name__}", provider="stripe",
                                status=exc.http_status) from None
        return CheckoutSession(id=session.id, url=session.url, organization_id=checkout.organization_id,
                               amount=checkout.amount)

    def parse(self, payload: bytes, signature: str | None) -> PaymentEvent | None:
        if not self._webhook_secret:
            raise InvalidSignature("stripe.webhook_secret is not configured")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret, self._tolerance)
        except stripe.SignatureVerificationError:
            raise InvalidSignature("invalid or missing Stripe-Signature") from None
        except (ValueError, UnicodeDecodeError):
            raise InvalidRequest("webhook body is not a Stripe event") from None
        data = event.to_dict()
        kind = str(data.get("type", ""))
        obj: dict[str, Any] = (data.get("data") or {}).get("object") or {}
        if kind in SESSION_EVENTS:
            if obj.get("payment_status") not in PAID:
                return None  # an asynchronous payment: credits come with async_payment_succeeded
            intent = obj.get("payment_intent")
            intent_id = intent.get("id") if isinstance(intent, dict) else intent
            session_id = obj.get("id")
        elif kind in PAYMENT_INTENT_EVENTS:
            intent_id, session_id = obj.get("id"), None
        else:
            return None
        return self._event(data, kind, obj, intent_id, session_id)

    @staticmethod
    def _event(data: dict[str, Any], kind: str, obj: dict[str, Any], intent_id: Any,
               session_id: Any) -> PaymentEvent | None:
        metadata = obj.get("metadata") or {}
        organization_id, amount = metadata.get("organization_id"), metadata.get("credit_amount")
        payment_id = intent_id or session_id
        if not organization_id or amount is None or not payment_id:
            log.info("stripe %s %s carries no organization_id/credit_amount: ignored", kind, data.get("id"))
            return None
        try:
            credit = money(amount)
        except ValueError:
            credit = Decimal(0)
        if credit <= 0:
            log.warning("stripe %s %s has an unusable credit_amount %r: ignored", kind, data.get("id"), amount)
            return None
        return PaymentEvent(event_id=str(data.get("id", "")), event_type=kind, payment_id=str(payment_id),
                            organization_id=str(organization_id), credit_amount=credit,
                            payment_intent_id=str(intent_id) if intent_id else None,
                            checkout_session_id=str(session_id) if session_id else None,
                            livemode=bool(data.get("livemode", False)))
