"""A tiny stand-in for the Stripe API (POST /v1/checkout/sessions) and Stripe-style webhook signing."""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import orjson


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """`t=<ts>,v1=<hex HMAC-SHA256 of "<ts>.<payload>">`, exactly as Stripe signs webhooks."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> bytes:
    return orjson.dumps({"id": event_id or f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": kind,
                         "api_version": "2024-06-20", "created": int(time.time()), "livemode": False,
                         "data": {"object": obj}})


def session_completed(org: str, amount: str, payment_intent: str, session_id: str = "cs_test_1",
                      payment_status: str = "paid") -> dict[str, Any]:
    return {"id": session_id, "object": "checkout.session", "payment_intent": payment_intent,
            "payment_status": payment_status, "metadata": {"organization_id": org, "credit_amount": amount}}


def intent_succeeded(org: str, amount: str, payment_intent: str) -> dict[str, Any]:
    return {"id": payment_intent, "object": "payment_intent", "status": "succeeded",
            "metadata": {"organization_id": org, "credit_amount": amount}}


class FakeStripeApi:
    """ASGI app: answers checkout session creation and records the form fields it was sent."""

    def __init__(self) -> None:
        self.sessions: list[dict[str, str]] = []
        self.auth: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = dict(scope["headers"])
        self.auth.append(headers.get(b"authorization", b"").decode())
        if scope["method"] == "POST" and scope["path"] == "/v1/checkout/sessions":
            form = dict(parse_qsl(body.decode()))
            self.sessions.append(form)
            session_id = f"cs_test_{uuid.uuid4().hex[:12]}"
            answer = {"id": session_id, "object": "checkout.session", "url": f"https://checkout.test/{session_id}",
                      "mode": form.get("mode"), "payment_status": "unpaid", "payment_intent": None,
                      "metadata": {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}}
            status = 200
        else:
            answer, status = {"error": {"type": "invalid_request_error", "message": "unknown path"}}, 404
        data = orjson.dumps(answer)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})
