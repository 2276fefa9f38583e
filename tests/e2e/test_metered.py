"""End to end through the real HTTP server (uvicorn subprocess) with keys, limits, credits and a
Stripe top-up: the official SDKs as clients, the fake upstream behind, a fake Stripe API for the
checkout session and Stripe-signed webhooks for the payment."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import anthropic
import httpx
import openai
import pytest
import uvicorn
from google import genai
from google.genai import types as gtypes

from tests.e2e.conftest import three_provider_config
from tests.fake_stripe import FakeStripeApi, event, session_completed, sign

pytestmark = pytest.mark.e2e
ADMIN_TOKEN = "e2e-admin-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
WEBHOOK_SECRET = "whsec_e2e"


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[tuple[str, FakeStripeApi]]:
    api = FakeStripeApi()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(api, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}", api
    server.should_exit = True
    thread.join(timeout=5)
    sock.close()


@pytest.fixture(scope="module")
def gateway(start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str,
            fake_stripe: tuple[str, FakeStripeApi], tmp_path_factory: pytest.TempPathFactory) -> str:
    db = tmp_path_factory.mktemp("metered") / "gateway.db"
    config = three_provider_config(
        fake_upstream,
        auth={"api_keys": True, "admin_token": ADMIN_TOKEN},
        credits={"enabled": True},
        stripe={"secret_key": "sk_test_e2e", "webhook_secret": WEBHOOK_SECRET, "api_base": fake_stripe[0]},
        database={"url": f"sqlite:///{db}"},
        usage={"flush_interval_ms": 20},
        rate_limit={"requests_per_minute": 1000},
    )
    return start_gateway(config)


def admin(gateway: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, f"{gateway}{path}", headers=ADMIN, timeout=10, **kwargs)


def wait_for_usage(gateway: str, key_id: int, requests: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        stats = admin(gateway, "GET", f"/admin/api-keys/{key_id}/stats").json()
        if stats["requests"] >= requests or time.monotonic() > deadline:
            return dict(stats)
        time.sleep(0.05)


def test_keys_limits_credits_and_a_stripe_top_up(gateway: str, fake_stripe: tuple[str, FakeStripeApi]) -> None:
    assert httpx.get(f"{gateway}/admin/api-keys", timeout=5).status_code == 401
    created = admin(gateway, "POST", "/admin/api-keys",
                    json={"name": "e2e", "organization_id": "acme-e2e", "rate_limit_rpm": 8}).json()
    key, key_id = created["key"], created["id"]
    oai = openai.OpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0)
    ask = {"model": "fake_openai:gpt-4o-mini", "messages": [{"role": "user", "content": "hello there"}]}

    # no key, a wrong key: 401 as the SDK's own exception
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{gateway}/v1", api_key="apk_wrong", max_retries=0).chat.completions.create(**ask)

    # no credits yet: 402 before any upstream call
    with pytest.raises(openai.APIStatusError) as refused:
        oai.chat.completions.create(**ask)
    assert refused.value.status_code == 402

    # top-up: a checkout session through the stripe SDK, then Stripe's signed webhook (delivered twice)
    session = admin(gateway, "POST", "/admin/stripe/checkout-session", json={
        "organization_id": "acme-e2e", "amount": "5", "success_url": "https://app.test/ok",
        "cancel_url": "https://app.test/no"})
    assert session.status_code == 201, session.text
    sent = fake_stripe[1].sessions[-1]
    assert sent["metadata[organization_id]"] == "acme-e2e" and sent["metadata[credit_amount]"] == "5"
    paid = event("checkout.session.completed",
                 session_completed("acme-e2e", sent["metadata[credit_amount]"], "pi_e2e", session.json()["id"]))
    for _ in range(2):
        hook = httpx.post(f"{gateway}/webhooks/stripe", content=paid,
                          headers={"stripe-signature": sign(paid, WEBHOOK_SECRET), "content-type": "application/json"})
        assert hook.status_code == 200
    forged = httpx.post(f"{gateway}/webhooks/stripe", content=paid,
                        headers={"stripe-signature": sign(paid, "whsec_forged")})
    assert forged.status_code == 400
    assert admin(gateway, "GET", "/admin/credits/balance/acme-e2e").json()["balance"] == "5"

    # now every SDK gets through with the same key, streamed or not
    reply = oai.chat.completions.create(**ask)
    assert reply.choices[0].message.content.startswith("Fake reply to:")
    assert "".join(c.choices[0].delta.content or "" for c in oai.chat.completions.create(**ask, stream=True)
                   if c.choices)
    claude = anthropic.Anthropic(base_url=gateway, api_key=key, max_retries=0)
    message = claude.messages.create(model="fake_anthropic:claude-sonnet-4-5", max_tokens=64,
                                     messages=[{"role": "user", "content": "hello there"}])
    assert message.content[0].text.startswith("Fake reply to:")
    gemini = genai.Client(api_key=key, http_options=gtypes.HttpOptions(base_url=gateway))
    answer = gemini.models.generate_content(model="fake_gemini:gemini-2.5-flash", contents="hello there")
    assert answer.text.startswith("Fake reply to:")

    # the key's limit: 8 per minute, 2 already used by the refused and the first calls
    statuses = []
    for _ in range(6):
        try:
            oai.chat.completions.create(**ask)
            statuses.append(200)
        except openai.RateLimitError as exc:
            statuses.append(429)
            assert int(exc.response.headers["retry-after"]) >= 1
    assert statuses.count(429) >= 2 and statuses[-1] == 429

    # usage: one record per request (the 402 and the 429s included); credits: exactly their cost
    served = 4 + statuses.count(200)
    stats = wait_for_usage(gateway, key_id, 1 + served + statuses.count(429))
    assert stats["requests"] == 1 + served + statuses.count(429)
    assert stats["errors"] == 1 + statuses.count(429)
    usage = admin(gateway, "GET", f"/admin/api-keys/{key_id}/usage?limit=100").json()["data"]
    spent = sum((Decimal(r["cost"]) for r in usage), Decimal(0))
    assert spent > 0 and all(not r["pricing_unknown"] for r in usage if r["status"] == "success")
    assert {r["provider"] for r in usage if r["status"] == "success"} == {"fake_openai", "fake_anthropic",
                                                                          "fake_gemini"}
    balance = admin(gateway, "GET", "/admin/credits/balance/acme-e2e").json()
    assert Decimal(balance["balance"]) == Decimal(5) - spent and Decimal(balance["total_used"]) == spent
    txs = admin(gateway, "GET", "/admin/credits/transactions/acme-e2e?limit=100").json()["data"]
    assert [t["type"] for t in txs].count("purchase") == 1
    assert sorted(t["api_usage_id"] for t in txs if t["type"] == "usage") == sorted(
        r["id"] for r in usage if Decimal(r["cost"]) > 0)


def test_health_and_webhooks_stay_open(gateway: str) -> None:
    assert httpx.get(f"{gateway}/health", timeout=5).status_code == 200
    assert httpx.post(f"{gateway}/webhooks/stripe", content=b"{}", timeout=5).status_code == 400


