"""The admin API: API keys, usage, credits and credit purchases.

Every `/admin` route is guarded by `auth.admin_token` in `entrypoints.http.access` (401 when the
token is missing or wrong). Request bodies are parsed by the pydantic models in
`entrypoints/http/schemas/admin.py` (which also document the responses in `/openapi.json`);
handlers call the use cases and encode the results; amounts are exact decimal strings.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from application.billing import BillingService
from application.keys import KeyService
from domain.credits import CreditBalance, CreditTransaction, format_amount
from domain.errors import InvalidRequest
from domain.keys import ApiKey
from domain.usage import UsageRecord, UsageStats
from entrypoints.http.io import json_response, read_json
from entrypoints.http.schemas import admin as schemas

MAX_ADMIN_BODY = 1024 * 1024


def register(router: Router) -> None:
    router.add_post("/admin/api-keys", create_key)
    router.add_get("/admin/api-keys", list_keys)
    router.add_post("/admin/api-keys/verify", verify_key)
    router.add_get("/admin/api-keys/{key_id}", get_key)
    router.add_patch("/admin/api-keys/{key_id}", update_key)
    router.add_post("/admin/api-keys/{key_id}/revoke", revoke_key)
    router.add_delete("/admin/api-keys/{key_id}", delete_key)
    router.add_get("/admin/api-keys/{key_id}/usage", key_usage)
    router.add_get("/admin/api-keys/{key_id}/stats", key_stats)
    router.add_get("/admin/credits/balance/{organization_id}", credit_balance)
    router.add_get("/admin/credits/transactions/{organization_id}", credit_transactions)
    router.add_post("/admin/credits/adjust", adjust_credits)
    router.add_post("/admin/stripe/checkout-session", checkout_session)


# --- wire shapes ------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def _money(value: Decimal | None) -> str | None:
    return format_amount(value) if value is not None else None


def key_json(key: ApiKey) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": key.id, "object": "api_key", "name": key.name, "key_prefix": key.key_prefix,
        "organization_id": key.organization_id, "rate_limit_rpm": key.rate_limit_rpm,
        "budget_limit": _money(key.budget_limit), "budget_period": key.budget_period,
        "budget_used": format_amount(key.budget_spent(now)), "expires_at": _time(key.expires_at),
        "is_active": key.is_active, "state": key.state(now), "revoked_at": _time(key.revoked_at),
        "created_at": _time(key.created_at), "updated_at": _time(key.updated_at),
        "last_used_at": _time(key.last_used_at), "metadata": key.metadata,
    }


def usage_json(r: UsageRecord) -> dict[str, Any]:
    return {
        "id": r.id, "request_id": r.request_id, "api_key_id": r.api_key_id, "organization_id": r.organization_id,
        "endpoint": r.endpoint, "provider": r.provider, "model": r.model, "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens, "cached_tokens": r.cached_tokens,
        "cache_write_tokens": r.cache_write_tokens, "reasoning_tokens": r.reasoning_tokens,
        "cost": format_amount(r.cost), "currency": r.currency, "pricing_unknown": r.pricing_unknown,
        "status": r.status, "status_code": r.status_code, "latency_ms": r.latency_ms, "streamed": r.streamed,
        "cache_tier": r.cache_tier, "selection_source": r.selection_source, "error_message": r.error_message,
        "metadata": r.metadata, "created_at": _time(r.created_at),
    }


def stats_json(s: UsageStats) -> dict[str, Any]:
    def totals(x: Any) -> dict[str, Any]:
        return {"requests": x.requests, "errors": x.errors, "input_tokens": x.input_tokens,
                "output_tokens": x.output_tokens, "cached_tokens": x.cached_tokens,
                "reasoning_tokens": x.reasoning_tokens, "cost": format_amount(x.cost)}

    return {**totals(s), "by_model": [{"provider": m.provider, "model": m.model, **totals(m)} for m in s.by_model]}


def balance_json(b: CreditBalance, currency: str) -> dict[str, Any]:
    return {"organization_id": b.organization_id, "balance": format_amount(b.balance),
            "total_purchased": format_amount(b.total_purchased), "total_used": format_amount(b.total_used),
            "currency": currency, "updated_at": _time(b.updated_at)}


def transaction_json(t: CreditTransaction) -> dict[str, Any]:
    return {"id": t.id, "organization_id": t.organization_id, "type": t.type, "amount": format_amount(t.amount),
            "balance_after": format_amount(t.balance_after), "description": t.description, "metadata": t.metadata,
            "stripe_payment_intent_id": t.stripe_payment_intent_id,
            "stripe_checkout_session_id": t.stripe_checkout_session_id, "api_key_id": t.api_key_id,
            "api_usage_id": t.api_usage_id, "created_at": _time(t.created_at)}


# --- request parsing --------------------------------------------------------------------------


def _id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise InvalidRequest(f"{value!r} is not an API key id", param="id")
    return int(value)


def _int(request: Request, name: str, default: int) -> int:
    values = request.query.get(name)
    if not values:
        return default
    try:
        return int(values[0])
    except ValueError:
        raise InvalidRequest(f"{name} must be an integer", param=name) from None


def _flag(request: Request, name: str, default: bool) -> bool:
    values = request.query.get(name)
    return default if not values else values[0].lower() in ("1", "true", "yes")


def _since(request: Request) -> datetime | None:
    values = request.query.get("since")
    if not values:
        return None
    try:
        since = datetime.fromisoformat(values[0].replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest("since must be an ISO 8601 date-time", param="since") from None
    return since if since.tzinfo else since.replace(tzinfo=UTC)


# --- API keys ---------------------------------------------------------------------------------


async def create_key(request: Request, keys: KeyService) -> Response:
    new = schemas.parse_create_key(await read_json(request, MAX_ADMIN_BODY))
    issued = await keys.issue(new.name, organization_id=new.organization_id, rate_limit_rpm=new.rate_limit_rpm,
                              budget_limit=new.budget_limit, budget_period=new.budget_period,
                              expires_at=new.expires_at, metadata=new.metadata)
    return json_response({**key_json(issued.key), "key": issued.plaintext}, status=201)


async def list_keys(request: Request, keys: KeyService) -> Response:
    org = request.query.get("organization_id")
    limit, offset = _int(request, "limit", 100), _int(request, "offset", 0)
    if not 1 <= limit <= 500 or offset < 0:
        raise InvalidRequest("limit must be 1..500 and offset >= 0", param="limit")
    found = await keys.list(org[0] if org else None, _flag(request, "include_inactive", True), limit, offset)
    return json_response({"object": "list", "data": [key_json(k) for k in found]})


async def get_key(key_id: str, keys: KeyService) -> Response:
    return json_response(key_json(await keys.get(_id(key_id))))


async def update_key(key_id: str, request: Request, keys: KeyService) -> Response:
    changes = schemas.parse_key_changes(await read_json(request, MAX_ADMIN_BODY))
    return json_response(key_json(await keys.update(_id(key_id), changes)))


async def revoke_key(key_id: str, keys: KeyService) -> Response:
    return json_response(key_json(await keys.revoke(_id(key_id))))


async def delete_key(key_id: str, keys: KeyService) -> Response:
    ident = _id(key_id)
    await keys.delete(ident)
    return json_response({"id": ident, "object": "api_key", "deleted": True})


async def verify_key(request: Request, keys: KeyService) -> Response:
    key, state = await keys.lookup(schemas.parse_verify(await read_json(request, MAX_ADMIN_BODY)).key)
    if key is None:
        return json_response({"valid": False, "reason": "unknown"})
    return json_response({"valid": state == "active", "reason": None if state == "active" else state,
                          "api_key": key_json(key)})


async def key_usage(key_id: str, request: Request, keys: KeyService, billing: BillingService) -> Response:
    key = await keys.get(_id(key_id))
    limit, offset = _int(request, "limit", 100), _int(request, "offset", 0)
    records = await billing.usage_for_key(key.id, limit, offset)
    return json_response({"object": "list", "data": [usage_json(r) for r in records], "limit": limit,
                          "offset": offset, "has_more": len(records) == limit})


async def key_stats(key_id: str, request: Request, keys: KeyService, billing: BillingService) -> Response:
    key = await keys.get(_id(key_id))
    since = _since(request)
    stats = await billing.stats_for_key(key.id, since)
    return json_response({"api_key_id": key.id, "since": _time(since), "currency": billing.currency,
                          **stats_json(stats)})


# --- credits ----------------------------------------------------------------------------------


async def credit_balance(organization_id: str, billing: BillingService) -> Response:
    return json_response(balance_json(await billing.balance(organization_id), billing.currency))


async def credit_transactions(organization_id: str, request: Request, billing: BillingService) -> Response:
    limit, offset = _int(request, "limit", 50), _int(request, "offset", 0)
    items = await billing.transactions(organization_id, limit, offset)
    return json_response({"object": "list", "data": [transaction_json(t) for t in items], "limit": limit,
                          "offset": offset, "has_more": len(items) == limit})


async def adjust_credits(request: Request, billing: BillingService) -> Response:
    grant = schemas.parse_adjustment(await read_json(request, MAX_ADMIN_BODY))
    transaction, applied = await billing.adjust(grant.organization_id, grant.amount, grant.type,
                                                grant.description or "", grant.metadata, grant.idempotency_key)
    balance = await billing.balance(transaction.organization_id)
    return json_response({"applied": applied, "transaction": transaction_json(transaction),
                          "balance": balance_json(balance, billing.currency)}, status=201 if applied else 200)


async def checkout_session(request: Request, billing: BillingService) -> Response:
    order = schemas.parse_checkout(await read_json(request, MAX_ADMIN_BODY))
    session = await billing.checkout(order.organization_id, order.amount, order.success_url, order.cancel_url,
                                     order.customer_email)
    return json_response({"id": session.id, "url": session.url, "organization_id": session.organization_id,
                          "amount": format_amount(session.amount), "currency": billing.currency}, status=201)
