"""Payment webhooks (open routes: the signature is the authentication).

A bad or missing signature is a 400 and changes nothing; a verified event that adds no credits
is a 200 and ignored; a replayed event is a 200 and adds nothing the second time.
"""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from application.billing import BillingService
from domain.errors import PayloadTooLarge
from entrypoints.http.io import json_response

MAX_WEBHOOK_BODY = 1024 * 1024


def register(router: Router) -> None:
    router.add_post("/webhooks/stripe", stripe_webhook)


async def stripe_webhook(request: Request, billing: BillingService) -> Response:
    payload = await request.read() or b""
    if len(payload) > MAX_WEBHOOK_BODY:
        raise PayloadTooLarge("webhook body too large")
    signature = request.get_first_header(b"stripe-signature")
    outcome = await billing.handle_payment(payload, signature.decode("latin-1") if signature else None)
    return json_response({"received": True, "handled": outcome.handled, "applied": outcome.applied,
                          "type": outcome.event_type or None})
