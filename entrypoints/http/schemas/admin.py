"""The admin API's bodies (`/admin/...`): what each route accepts and returns.

Amounts are exact decimal strings in responses (numbers or strings in requests); times are
ISO 8601 in UTC with a `Z`. The key-field rules themselves (positive rpm, known budget
periods, non-negative amounts) stay in `application.keys` and `application.billing`, which the
CLI and library share.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import ErrorDetails

from application.keys import validate_changes
from domain.errors import InvalidRequest
from entrypoints.http.schemas.validation import parse

Amount = str | int | float


class CreateKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    organization_id: str | None = Field(default=None, min_length=1, max_length=255)
    rate_limit_rpm: int | None = Field(default=None, gt=0)
    budget_limit: Amount | None = Field(default=None, description="non-negative amount")
    budget_period: Literal["daily", "weekly", "monthly"] | None = None
    expires_at: str | int | float | None = Field(default=None, description="ISO 8601 date-time or Unix time")
    metadata: dict[str, Any] | None = None


class UpdateKeyRequest(BaseModel):
    """Any subset of the mutable fields; `is_active: false` suspends a key (undo with true)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=255)
    organization_id: str | None = Field(default=None, min_length=1, max_length=255)
    rate_limit_rpm: int | None = Field(default=None, gt=0)
    budget_limit: Amount | None = None
    budget_period: Literal["daily", "weekly", "monthly"] | None = None
    expires_at: str | int | float | None = None
    metadata: dict[str, Any] | None = None
    is_active: bool | None = None


class VerifyKeyRequest(BaseModel):
    key: str


class AdjustCreditsRequest(BaseModel):
    organization_id: str = Field(min_length=1, max_length=255)
    amount: Amount = Field(description="positive amount")
    type: Literal["promotional", "refund"] = "promotional"
    description: str | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)


class CheckoutRequestIn(BaseModel):
    organization_id: str = Field(min_length=1, max_length=255)
    amount: Amount
    success_url: str = Field(pattern=r"^https?://")
    cancel_url: str = Field(pattern=r"^https?://")
    customer_email: str | None = None


class ApiKeyOut(BaseModel):
    id: int
    object: Literal["api_key"] = "api_key"
    name: str
    key_prefix: str
    organization_id: str | None
    rate_limit_rpm: int | None
    budget_limit: str | None
    budget_period: str | None
    budget_used: str
    expires_at: str | None
    is_active: bool
    state: Literal["active", "inactive", "revoked", "expired"]
    revoked_at: str | None
    created_at: str | None
    updated_at: str | None
    last_used_at: str | None
    metadata: dict[str, Any]


class IssuedKeyOut(ApiKeyOut):
    key: str = Field(description="the plaintext key, shown only in this response")


class KeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApiKeyOut]


class DeletedKeyOut(BaseModel):
    id: int
    object: Literal["api_key"] = "api_key"
    deleted: bool


class VerifyKeyOut(BaseModel):
    valid: bool
    reason: str | None
    api_key: ApiKeyOut | None = None


class UsageOut(BaseModel):
    id: str
    request_id: str
    api_key_id: int | None
    organization_id: str | None
    endpoint: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int
    cost: str
    currency: str
    pricing_unknown: bool
    status: str
    status_code: int
    latency_ms: int
    streamed: bool
    cache_tier: str | None
    selection_source: str | None
    error_message: str | None
    metadata: dict[str, Any]
    created_at: str | None


class UsagePage(BaseModel):
    object: Literal["list"] = "list"
    data: list[UsageOut]
    limit: int
    offset: int
    has_more: bool


class Totals(BaseModel):
    requests: int
    errors: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost: str


class ModelTotals(Totals):
    provider: str
    model: str


class KeyStatsOut(Totals):
    api_key_id: int
    since: str | None
    currency: str
    by_model: list[ModelTotals]


class BalanceOut(BaseModel):
    organization_id: str
    balance: str
    total_purchased: str
    total_used: str
    currency: str
    updated_at: str | None


class TransactionOut(BaseModel):
    id: int
    organization_id: str
    type: str
    amount: str
    balance_after: str
    description: str
    metadata: dict[str, Any]
    stripe_payment_intent_id: str | None
    stripe_checkout_session_id: str | None
    api_key_id: int | None
    api_usage_id: str | None
    created_at: str | None


class TransactionPage(BaseModel):
    object: Literal["list"] = "list"
    data: list[TransactionOut]
    limit: int
    offset: int
    has_more: bool


class AdjustmentOut(BaseModel):
    applied: bool = Field(description="false when the idempotency key was seen before (status 200, not 201)")
    transaction: TransactionOut
    balance: BalanceOut


class CheckoutSessionOut(BaseModel):
    id: str
    url: str
    organization_id: str
    amount: str
    currency: str


# --- request parsing: pydantic first, the application's own messages for what it rejects -------

_MESSAGES = {
    "key": "key must be a string",
    "organization_id": "organization_id must be a non-empty string",
    "idempotency_key": "idempotency_key must be a non-empty string",
    "type": "type must be 'promotional' or 'refund'",
    "description": "description must be a string",
    "metadata": "metadata must be a JSON object",
    "amount": "amount must be a positive number",
    "success_url": "success_url must be an http(s) URL",
    "cancel_url": "cancel_url must be an http(s) URL",
    "customer_email": "customer_email must be a string",
}


def _key_field_message(error: ErrorDetails, param: str, unknown: str) -> str | None:
    """A key field's message as `application.keys` words it (the CLI and library see the same)."""
    if error["type"] == "extra_forbidden":
        return f"{unknown} {param!r}"
    try:
        validate_changes({param: error["input"]})
    except InvalidRequest as exc:
        return exc.message
    return None


def parse_create_key(body: dict[str, Any]) -> CreateKeyRequest:
    if "name" not in body:
        raise InvalidRequest("name must be a non-empty string of at most 255 characters", param="name")
    return parse(CreateKeyRequest, body, lambda error, param: _key_field_message(error, param, "unknown field"))


def parse_key_changes(body: dict[str, Any]) -> dict[str, Any]:
    """The fields a PATCH sets (null included), typed."""
    changes = parse(UpdateKeyRequest, body,
                    lambda error, param: _key_field_message(error, param, "unknown or read-only field"))
    return changes.model_dump(exclude_unset=True)


def _message(error: ErrorDetails, param: str) -> str | None:
    return _MESSAGES.get(param)


def parse_verify(body: dict[str, Any]) -> VerifyKeyRequest:
    return parse(VerifyKeyRequest, body, _message)


def parse_adjustment(body: dict[str, Any]) -> AdjustCreditsRequest:
    return parse(AdjustCreditsRequest, body, _message)


def parse_checkout(body: dict[str, Any]) -> CheckoutRequestIn:
    return parse(CheckoutRequestIn, body, _message)
