"""Credit balances and transactions in process memory (single process; every change is atomic
because nothing awaits between its read and its write)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

from domain.credits import CreditBalance, CreditTransaction, Grant, apply_grant, apply_usage, valid_grant


class InMemoryCreditLedger:
    def __init__(self) -> None:
        self._balances: dict[str, CreditBalance] = {}
        self._transactions: list[CreditTransaction] = []
        self._by_idempotency: dict[str, CreditTransaction] = {}
        self._usage_ids: set[str] = set()

    def _account(self, organization_id: str) -> CreditBalance:
        account = self._balances.get(organization_id)
        if account is None:
            account = self._balances[organization_id] = CreditBalance(organization_id)
        return account

    async def balance(self, organization_id: str) -> CreditBalance:
        account = self._balances.get(organization_id)
        return copy.copy(account) if account else CreditBalance(organization_id)

    async def transactions(self, organization_id: str, limit: int = 50, offset: int = 0) -> list[CreditTransaction]:
        mine = [t for t in reversed(self._transactions) if t.organization_id == organization_id]
        return [copy.deepcopy(t) for t in mine[offset:offset + limit]]

    async def grant(self, grant: Grant) -> tuple[CreditTransaction, bool]:
        valid_grant(grant.amount)
        if grant.idempotency_key is not None and grant.idempotency_key in self._by_idempotency:
            return copy.deepcopy(self._by_idempotency[grant.idempotency_key]), False
        account = self._account(grant.organization_id)
        apply_grant(account, grant)
        account.updated_at = datetime.now(UTC)
        transaction = self._append(CreditTransaction(
            id=0, organization_id=grant.organization_id, type=grant.type, amount=grant.amount,
            balance_after=account.balance, description=grant.description, metadata=dict(grant.metadata),
            idempotency_key=grant.idempotency_key, stripe_payment_intent_id=grant.stripe_payment_intent_id,
            stripe_checkout_session_id=grant.stripe_checkout_session_id))
        if grant.idempotency_key is not None:
            self._by_idempotency[grant.idempotency_key] = transaction
        return copy.deepcopy(transaction), True

    async def deduct(self, organization_id: str, amount: Decimal, *, api_key_id: int | None = None,
                     api_usage_id: str | None = None, description: str = "") -> CreditTransaction:
        return copy.deepcopy(self.deduct_now(organization_id, amount, api_key_id=api_key_id,
                                             api_usage_id=api_usage_id, description=description))

    def deduct_now(self, organization_id: str, amount: Decimal, *, api_key_id: int | None = None,
                   api_usage_id: str | None = None, description: str = "",
                   created_at: datetime | None = None) -> CreditTransaction:
        if amount < 0:
            raise ValueError("a deduction must not be negative")
        if api_usage_id is not None:
            if api_usage_id in self._usage_ids:
                raise ValueError(f"usage {api_usage_id} was already charged")
            self._usage_ids.add(api_usage_id)
        account = self._account(organization_id)
        apply_usage(account, amount)
        account.updated_at = datetime.now(UTC)
        return self._append(CreditTransaction(
            id=0, organization_id=organization_id, type="usage", amount=-amount, balance_after=account.balance,
            description=description, api_key_id=api_key_id, api_usage_id=api_usage_id,
            created_at=created_at))

    def _append(self, transaction: CreditTransaction) -> CreditTransaction:
        transaction.id = len(self._transactions) + 1
        if transaction.created_at is None:
            transaction.created_at = datetime.now(UTC)
        self._transactions.append(transaction)
        return transaction
