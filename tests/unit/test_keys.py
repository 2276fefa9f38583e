"""Key format, hashing, state and budget periods (domain/keys.py) and the key use cases."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.memory.keys import InMemoryApiKeyStore
from application.keys import KeyCache, KeyService
from domain.errors import AuthenticationFailed, InvalidRequest, NotFound
from domain.keys import (
    KEY_LENGTH,
    ApiKey,
    display_prefix,
    generate_key,
    hash_key,
    period_start,
    well_formed,
)

NOW = datetime(2025, 3, 13, 15, 30, tzinfo=UTC)  # a Thursday


def test_keys_are_apk_plus_43_url_safe_characters() -> None:
    keys = {generate_key() for _ in range(200)}
    assert len(keys) == 200
    for key in keys:
        assert key.startswith("apk_") and len(key) == KEY_LENGTH == 47
        assert well_formed(key)
    assert not well_formed("apk_" + "!" * 43)
    assert not well_formed("sk-" + "a" * 44)
    assert not well_formed(next(iter(keys))[:-1])


def test_keys_are_stored_as_sha256_with_a_display_prefix() -> None:
    key = generate_key()
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert display_prefix(key) == key[:12] and display_prefix(key).startswith("apk_")


def _key(**fields: object) -> ApiKey:
    return ApiKey(id=1, name="k", key_hash="h", key_prefix="apk_x", **fields)  # type: ignore[arg-type]


def test_state_revoked_inactive_expired_active() -> None:
    assert _key().state(NOW) == "active"
    assert _key(is_active=False).state(NOW) == "inactive"
    assert _key(revoked_at=NOW).state(NOW) == "revoked"
    assert _key(expires_at=NOW).state(NOW) == "expired"
    assert _key(expires_at=NOW + timedelta(seconds=1)).state(NOW) == "active"


def test_budget_periods_start_at_utc_day_monday_and_first_of_month() -> None:
    assert period_start("daily", NOW) == datetime(2025, 3, 13, tzinfo=UTC)
    assert period_start("weekly", NOW) == datetime(2025, 3, 10, tzinfo=UTC)
    assert period_start("monthly", NOW) == datetime(2025, 3, 1, tzinfo=UTC)
    assert period_start(None, NOW).year == 1970


def test_budget_spend_resets_when_the_period_rolls_over() -> None:
    key = _key(budget_limit=Decimal(5), budget_period="daily", budget_used=Decimal(5),
               budget_period_start=datetime(2025, 3, 13, tzinfo=UTC))
    assert key.budget_exhausted(NOW)
    assert not key.budget_exhausted(NOW + timedelta(days=1))
    assert key.budget_spent(NOW + timedelta(days=1)) == 0
    lifetime = _key(budget_limit=Decimal(5), budget_used=Decimal(4), budget_period_start=period_start(None, NOW))
    assert not lifetime.budget_exhausted(NOW + timedelta(days=400))
    assert lifetime.budget_exhausted(NOW, pending=Decimal(1))
    assert not _key().budget_exhausted(NOW)


class Clock:
    """The Clock port at a settable datetime (`clock.at = ...`)."""

    def __init__(self) -> None:
        self.at = NOW

    def now(self) -> float:
        return self.at.timestamp()

    def monotonic(self) -> float:
        return self.at.timestamp()


@pytest.fixture
def service() -> tuple[KeyService, InMemoryApiKeyStore, Clock]:
    store, clock = InMemoryApiKeyStore(), Clock()
    return KeyService(store, clock=clock), store, clock


async def test_issue_shows_the_plaintext_once_and_stores_only_its_hash(service) -> None:
    keys, store, _ = service
    issued = await keys.issue("ci", organization_id="acme", rate_limit_rpm=10, budget_limit="2.5",
                              budget_period="monthly", metadata={"team": "x"})
    stored = await store.get(issued.key.id)
    assert stored is not None and stored.key_hash == hash_key(issued.plaintext)
    assert issued.plaintext not in repr(stored)
    assert stored.budget_limit == Decimal("2.5") and stored.organization_id == "acme"
    assert (await keys.verify(issued.plaintext)).id == issued.key.id


@pytest.mark.parametrize("presented,code", [
    (None, "missing_api_key"), ("", "missing_api_key"), ("garbage", "invalid_api_key"),
    ("apk_" + "a" * 43, "invalid_api_key")])
async def test_verify_refuses_missing_and_unknown_keys(service, presented, code) -> None:
    keys, _, _ = service
    with pytest.raises(AuthenticationFailed) as err:
        await keys.verify(presented)
    assert err.value.code == code


async def test_verify_refuses_revoked_inactive_and_expired_keys(service) -> None:
    keys, _, clock = service
    revoked = await keys.issue("a")
    await keys.revoke(revoked.key.id)
    inactive = await keys.issue("b")
    await keys.update(inactive.key.id, {"is_active": False})
    expiring = await keys.issue("c", expires_at=(NOW + timedelta(hours=1)).isoformat())
    for plaintext, state in ((revoked.plaintext, "revoked"), (inactive.plaintext, "inactive")):
        with pytest.raises(AuthenticationFailed, match=state):
            await keys.verify(plaintext)
    await keys.verify(expiring.plaintext)
    clock.at = NOW + timedelta(hours=1)
    with pytest.raises(AuthenticationFailed, match="expired"):
        await keys.verify(expiring.plaintext)


@pytest.mark.parametrize("changes", [
    {"name": ""}, {"rate_limit_rpm": 0}, {"rate_limit_rpm": True}, {"budget_limit": -1},
    {"budget_period": "hourly"}, {"expires_at": "soon"}, {"metadata": []}, {"key_hash": "x"}, {"is_active": "yes"}])
async def test_updates_are_validated(service, changes) -> None:
    keys, _, _ = service
    issued = await keys.issue("a")
    with pytest.raises(InvalidRequest):
        await keys.update(issued.key.id, changes)


async def test_unknown_ids_are_not_found(service) -> None:
    keys, _, _ = service
    for call in (keys.get(99), keys.update(99, {"name": "x"}), keys.revoke(99), keys.delete(99)):
        with pytest.raises(NotFound):
            await call


async def test_the_cache_forgets_a_key_revoked_through_the_same_service() -> None:
    store = InMemoryApiKeyStore()
    keys = KeyService(store, KeyCache(ttl_s=60))
    issued = await keys.issue("a")
    await keys.verify(issued.plaintext)
    await keys.revoke(issued.key.id)
    with pytest.raises(AuthenticationFailed):
        await keys.verify(issued.plaintext)
