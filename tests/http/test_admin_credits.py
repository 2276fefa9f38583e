"""Credits in the admin API, checkout sessions through the stripe SDK, and Stripe webhooks."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import stripe
from blacksheep.contents import Content, JSONContent
from dependency_injector import providers

from adapters.config import settings_from_dict
from adapters.stripe.payments import StripePaymentEvents
from container import build_container
from tests.fake_stripe import FakeStripeApi, event, intent_succeeded, session_completed, sign
from tests.http import metered as harness
from tests.http.metered import ADMIN, bearer, chat, metered_config

metered = harness.metered  # the shared fixture

SECRET = "whsec_test_secret"
STRIPE = {"secret_key": "sk_test_123", "webhook_secret": SECRET, "api_base": "http://stripe.test"}


def webhook(payload: bytes, signature: str | None) -> dict[str, object]:
    headers = {"stripe-signature": signature} if signature is not None else {}
    return {"content": Content(b"application/json", payload), "headers": headers}


async def balance(gw, org: str = "acme") -> Decimal:  # type: ignore[no-untyped-def]
    return Decimal((await gw.admin_get(f"/admin/credits/balance/{org}"))["balance"])


async def test_adjust_grants_promotional_and_refund_credits(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    for amount, kind in (("10", "promotional"), (2.5, "refund")):
        response = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(
            {"organization_id": "acme", "amount": amount, "type": kind, "description": kind}))
        assert response.status == 201
    body = await gw.admin_get("/admin/credits/balance/acme")
    assert (body["balance"], body["total_purchased"], body["currency"]) == ("12.5", "0", "USD")
    page = await gw.admin_get("/admin/credits/transactions/acme?limit=1")
    assert [t["type"] for t in page["data"]] == ["refund"] and page["has_more"]
    second = await gw.admin_get("/admin/credits/transactions/acme?limit=1&offset=1")
    assert [(t["type"], t["amount"], t["balance_after"]) for t in second["data"]] == [("promotional", "10", "10")]
    replay = {"organization_id": "acme", "amount": 1, "type": "promotional", "idempotency_key": "promo-1"}
    first = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(replay))
    again = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(replay))
    assert (first.status, again.status) == (201, 200) and (await again.json())["applied"] is False
    assert await balance(gw) == Decimal("13.5")


@pytest.mark.parametrize("body", [{"organization_id": "acme", "amount": -1, "type": "refund"},
                                  {"organization_id": "acme", "amount": 0},
                                  {"organization_id": "acme", "amount": "lots"},
                                  {"organization_id": "acme", "amount": 5, "type": "purchase"},
                                  {"amount": 5, "type": "promotional"}])
async def test_adjust_rejects_bad_grants(metered, tmp_path: Path, body) -> None:
    gw = await metered(metered_config(tmp_path))
    response = await gw.client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(body))
    assert response.status == 400


async def _with_fake_stripe(metered, tmp_path: Path):  # type: ignore[no-untyped-def]
    api = FakeStripeApi()
    client = stripe.HTTPXClient()
    client._client_async = httpx.AsyncClient(transport=httpx.ASGITransport(app=api))
    container = build_container(settings_from_dict(metered_config(tmp_path, stripe=STRIPE, credits={"enabled": True})))
    container.metering.payments.override(providers.Object(
        StripePaymentEvents(STRIPE["secret_key"], SECRET, STRIPE["api_base"], http_client=client)))
    return api, await metered(None, container=container)


async def test_checkout_session_is_created_through_the_stripe_sdk(metered, tmp_path: Path) -> None:
    api, gw = await _with_fake_stripe(metered, tmp_path)
    response = await gw.client.post("/admin/stripe/checkout-session", headers=ADMIN, content=JSONContent({
        "organization_id": "acme", "amount": "25.50", "success_url": "https://app.test/ok",
        "cancel_url": "https://app.test/cancel"}))
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["id"].startswith("cs_test_") and body["url"].startswith("https://checkout.test/")
    form = api.sessions[0]
    assert api.auth[0] == "Bearer sk_test_123"
    assert form["mode"] == "payment" and form["line_items[0][price_data][unit_amount]"] == "2550"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["metadata[organization_id]"] == "acme" and form["metadata[credit_amount]"] == "25.5"
    assert form["payment_intent_data[metadata][organization_id]"] == "acme"
    bad = await gw.client.post("/admin/stripe/checkout-session", headers=ADMIN, content=JSONContent({
        "organization_id": "acme", "amount": 5, "success_url": "javascript:x", "cancel_url": "https://x"}))
    assert bad.status == 400


async def test_webhooks_add_credits_once_per_payment(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, stripe=STRIPE))
    completed = event("checkout.session.completed", session_completed("acme", "20", "pi_1"), "evt_1")
    response = await gw.client.post("/webhooks/stripe", **webhook(completed, sign(completed, SECRET)))
    assert response.status == 200 and (await response.json())["applied"] is True
    # Stripe retries the same event, then sends the PaymentIntent's own event for the same payment
    again = await gw.client.post("/webhooks/stripe", **webhook(completed, sign(completed, SECRET)))
    assert (await again.json()) == {"received": True, "handled": True, "applied": False,
                                    "type": "checkout.session.completed"}
    intent = event("payment_intent.succeeded", intent_succeeded("acme", "20", "pi_1"))
    sdk_signed = stripe.WebhookSignature.generate_signature_header(intent.decode(), SECRET)
    assert (await (await gw.client.post("/webhooks/stripe", **webhook(intent, sdk_signed))).json())["applied"] is False
    assert await balance(gw) == Decimal(20)
    body = await gw.admin_get("/admin/credits/balance/acme")
    assert body["total_purchased"] == "20"
    tx = (await gw.admin_get("/admin/credits/transactions/acme"))["data"]
    assert len(tx) == 1 and tx[0]["type"] == "purchase" and tx[0]["stripe_payment_intent_id"] == "pi_1"
    assert tx[0]["stripe_checkout_session_id"] == "cs_test_1"
    other = event("payment_intent.succeeded", intent_succeeded("acme", "5", "pi_2"))
    assert (await (await gw.client.post("/webhooks/stripe", **webhook(other, sign(other, SECRET)))).json())["applied"]
    assert await balance(gw) == Decimal(25)


@pytest.mark.parametrize("signature", [None, "", "t=1,v1=deadbeef", "garbage",
                                       sign(b"{}", SECRET), sign(b"x", "whsec_other"),
                                       "stale"])
async def test_forged_or_missing_signatures_are_400_and_change_nothing(metered, tmp_path: Path, signature) -> None:
    gw = await metered(metered_config(tmp_path, stripe=STRIPE))
    payload = event("checkout.session.completed", session_completed("acme", "1000", "pi_forged"))
    if signature == "stale":
        signature = sign(payload, SECRET, timestamp=int(time.time()) - 3600)
    elif signature == sign(b"x", "whsec_other"):
        signature = sign(payload, "whsec_other")
    response = await gw.client.post("/webhooks/stripe", **webhook(payload, signature))
    assert response.status == 400
    assert await balance(gw) == 0


async def test_unknown_and_unpaid_events_are_acknowledged_and_ignored(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, stripe=STRIPE))
    for payload in (event("customer.created", {"id": "cus_1", "object": "customer"}),
                    event("checkout.session.completed",
                          session_completed("acme", "5", "pi_3", payment_status="unpaid")),
                    event("payment_intent.succeeded", {"id": "pi_4", "object": "payment_intent", "metadata": {}}),
                    event("payment_intent.succeeded", intent_succeeded("acme", "-5", "pi_5"))):
        response = await gw.client.post("/webhooks/stripe", **webhook(payload, sign(payload, SECRET)))
        assert response.status == 200 and (await response.json())["applied"] is False
    assert await balance(gw) == 0


async def test_webhooks_need_stripe_to_be_configured(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    payload = event("payment_intent.succeeded", intent_succeeded("acme", "5", "pi_1"))
    response = await gw.client.post("/webhooks/stripe", **webhook(payload, sign(payload, SECRET)))
    assert response.status == 404


async def test_a_top_up_lets_a_blocked_organization_through(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, stripe=STRIPE, credits={"enabled": True}))
    key = (await gw.new_key(organization_id="acme"))["key"]
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 402
    payload = event("checkout.session.completed", session_completed("acme", "1", "pi_top"))
    await gw.client.post("/webhooks/stripe", **webhook(payload, sign(payload, SECRET)))
    assert (await gw.client.post("/v1/chat/completions", content=chat(), headers=bearer(key))).status == 200
    await gw.flush()
    assert await balance(gw) == Decimal("0.9982")
