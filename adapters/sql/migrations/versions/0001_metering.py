"""Metering: api_keys, api_key_usage, organization_credits, credit_transactions.

Revision ID: 0001_metering
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from adapters.sql.models import UtcDateTime

revision = "0001_metering"
down_revision = None
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("key_prefix", sa.String(16), nullable=False),
        sa.Column("organization_id", sa.String(255), nullable=True),
        sa.Column("rate_limit_rpm", sa.Integer(), nullable=True),
        sa.Column("budget_limit", sa.BigInteger(), nullable=True),
        sa.Column("budget_period", sa.String(16), nullable=True),
        sa.Column("budget_used", sa.BigInteger(), nullable=False),
        sa.Column("budget_period_start", UtcDateTime(), nullable=True),
        sa.Column("expires_at", UtcDateTime(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_organization_id", "api_keys", ["organization_id"])

    op.create_table(
        "api_key_usage",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("organization_id", sa.String(255), nullable=True),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_write_tokens", sa.Integer(), nullable=False),
        sa.Column("reasoning_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(8), nullable=False),
        sa.Column("pricing_unknown", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("streamed", sa.Boolean(), nullable=False),
        sa.Column("cache_tier", sa.String(32), nullable=True),
        sa.Column("selection_source", sa.String(32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_api_key_usage_request_id", "api_key_usage", ["request_id"])
    op.create_index("ix_api_key_usage_key_created", "api_key_usage", ["api_key_id", "created_at"])
    op.create_index("ix_api_key_usage_org_created", "api_key_usage", ["organization_id", "created_at"])
    op.create_index("ix_api_key_usage_created", "api_key_usage", ["created_at"])

    op.create_table(
        "organization_credits",
        sa.Column("organization_id", sa.String(255), primary_key=True),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("total_purchased", sa.BigInteger(), nullable=False),
        sa.Column("total_used", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )

    op.create_table(
        "credit_transactions",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("organization_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("stripe_payment_intent_id", sa.String(255), nullable=True),
        sa.Column("stripe_checkout_session_id", sa.String(255), nullable=True),
        sa.Column("api_key_id", sa.BigInteger(), nullable=True),
        sa.Column("api_usage_id", sa.String(32), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("idempotency_key", name="uq_credit_transactions_idempotency_key"),
        sa.UniqueConstraint("api_usage_id", name="uq_credit_transactions_api_usage_id"),
    )
    op.create_index("ix_credit_transactions_org_id", "credit_transactions", ["organization_id", "id"])
    op.create_index("ix_credit_transactions_stripe_payment_intent_id", "credit_transactions",
                    ["stripe_payment_intent_id"])


def downgrade() -> None:
    op.drop_table("credit_transactions")
    op.drop_table("organization_credits")
    op.drop_table("api_key_usage")
    op.drop_table("api_keys")
