"""Issuing, verifying, updating and revoking API keys."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from application.clock import SYSTEM_CLOCK, utc
from domain.credits import money
from domain.errors import AuthenticationFailed, InvalidRequest, NotFound
from domain.keys import (
    BUDGET_PERIODS,
    ApiKey,
    BudgetPeriod,
    KeyState,
    display_prefix,
    generate_key,
    hash_key,
    well_formed,
)
from domain.ports import ApiKeyStore, Clock

MUTABLE_FIELDS = ("name", "organization_id", "metadata", "rate_limit_rpm", "budget_limit", "budget_period",
                  "expires_at", "is_active")


@dataclass(slots=True)
class IssuedKey:
    """A new key: the stored record and the plaintext, which is shown this once."""

    key: ApiKey
    plaintext: str


class KeyCache:
    """Verified keys by hash, shared by every request.

    An entry is fresh for `ttl_s` seconds (0: every request reads the store). While the store is
    unreachable, an entry verified less than `ttl_s + grace_s` seconds ago still answers (0 grace:
    a store outage refuses every key), so keys in use keep working through a database outage and
    only unknown keys are refused. The cache keeps entries only when `ttl_s` or `grace_s` is set.
    """

    def __init__(self, ttl_s: float = 0.0, max_entries: int = 10_000, *, grace_s: float = 0.0,
                 clock: Clock | None = None) -> None:
        self.ttl_s = ttl_s
        self.grace_s = grace_s
        self._max = max_entries
        self._clock = clock or SYSTEM_CLOCK
        # hash -> (monotonic time of the store read, key)
        self._entries: dict[str, tuple[float, ApiKey]] = {}
        self._store_down_since: float | None = None  # wall time of the first failure of an outage
        self._served_stale = 0

    @property
    def enabled(self) -> bool:
        return bool(self.ttl_s or self.grace_s)

    def get(self, key_hash: str) -> ApiKey | None:
        """The key when its entry is fresh (read from the store less than `ttl_s` ago)."""
        return self._within(key_hash, self.ttl_s)

    def get_stale(self, key_hash: str) -> ApiKey | None:
        """The key for use while the store is unreachable: read less than `ttl_s + grace_s` ago."""
        key = self._within(key_hash, self.ttl_s + self.grace_s) if self.grace_s else None
        if key is not None:
            self._served_stale += 1
        return key

    def put(self, key: ApiKey) -> None:
        if not self.enabled:
            return
        if len(self._entries) >= self._max:
            self._entries.clear()
        self._entries[key.key_hash] = (self._clock.monotonic(), key)

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)

    def store_failed(self) -> None:
        if self._store_down_since is None:
            self._store_down_since = self._clock.now()

    def store_answered(self) -> None:
        self._store_down_since = None

    def status(self) -> dict[str, Any]:
        """For /health: whether keys are being served from the cache because the store is down."""
        down = self._store_down_since is not None
        report: dict[str, Any] = {
            "mode": "grace (key store unreachable: serving keys verified before the outage)" if down
            else "store", "degraded": down, "cached_keys": len(self._entries),
            "ttl_s": self.ttl_s, "grace_s": self.grace_s, "served_from_grace": self._served_stale}
        if down:
            report["store_down_since"] = datetime.fromtimestamp(self._store_down_since or 0, UTC).isoformat()
        return report

    def _within(self, key_hash: str, age_s: float) -> ApiKey | None:
        if not age_s:
            return None
        entry = self._entries.get(key_hash)
        if entry is None or self._clock.monotonic() - entry[0] >= age_s:
            return None
        return entry[1]


def validate_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Normalise admin-supplied key fields; unknown or malformed ones are 400s."""
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in MUTABLE_FIELDS:
            raise InvalidRequest(f"unknown or read-only field {name!r}", param=name)
        if name == "name":
            if not isinstance(value, str) or not value.strip() or len(value) > 255:
                raise InvalidRequest("name must be a non-empty string of at most 255 characters", param=name)
            value = value.strip()
        elif name == "organization_id":
            if value is not None and (not isinstance(value, str) or not value or len(value) > 255):
                raise InvalidRequest("organization_id must be a non-empty string or null", param=name)
        elif name == "metadata":
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise InvalidRequest("metadata must be a JSON object", param=name)
        elif name == "rate_limit_rpm":
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
                raise InvalidRequest("rate_limit_rpm must be a positive integer or null", param=name)
        elif name == "budget_limit":
            value = _amount(value, name)
        elif name == "budget_period":
            if value is not None and value not in BUDGET_PERIODS:
                raise InvalidRequest(f"budget_period must be one of {', '.join(BUDGET_PERIODS)} or null",
                                     param=name)
        elif name == "expires_at":
            value = _datetime(value, name)
        elif name == "is_active" and not isinstance(value, bool):
            raise InvalidRequest("is_active must be true or false", param=name)
        clean[name] = value
    return clean


def _amount(value: Any, name: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidRequest(f"{name} must be a number", param=name)
    try:
        amount = money(value)
    except ValueError:
        raise InvalidRequest(f"{name} must be a number", param=name) from None
    if amount < 0:
        raise InvalidRequest(f"{name} must not be negative", param=name)
    return amount


def _datetime(value: Any, name: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"{name} must be an ISO 8601 date-time", param=name) from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parsed = datetime.fromtimestamp(value, UTC)
    else:
        raise InvalidRequest(f"{name} must be an ISO 8601 date-time", param=name)
    if parsed is not None and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


class KeyService:
    """The API-key use cases. Cheap to build; the cache is shared."""

    def __init__(self, store: ApiKeyStore, cache: KeyCache | None = None, clock: Clock | None = None) -> None:
        self._store = store
        self._cache = cache or KeyCache()
        self._clock = clock or SYSTEM_CLOCK

    async def issue(self, name: str, *, organization_id: str | None = None, rate_limit_rpm: int | None = None,
                    budget_limit: Any = None, budget_period: BudgetPeriod | None = None,
                    expires_at: Any = None, metadata: dict[str, Any] | None = None) -> IssuedKey:
        """Create a key; the plaintext is returned once and only its hash is stored."""
        fields = validate_changes({
            "name": name, "organization_id": organization_id, "rate_limit_rpm": rate_limit_rpm,
            "budget_limit": budget_limit, "budget_period": budget_period, "expires_at": expires_at,
            "metadata": metadata or {}})
        plaintext = generate_key()
        now = utc(self._clock)
        key = ApiKey(id=0, key_hash=hash_key(plaintext), key_prefix=display_prefix(plaintext),
                     created_at=now, updated_at=now, **fields)
        return IssuedKey(key=await self._store.create(key), plaintext=plaintext)

    async def lookup(self, plaintext: str) -> tuple[ApiKey | None, KeyState | None]:
        """(key, state) for a presented key; (None, None) when it is malformed or unknown."""
        if not well_formed(plaintext):
            return None, None
        digest = hash_key(plaintext)
        key = self._cache.get(digest)
        if key is None:
            try:
                key = await self._store.find_by_hash(digest)
            except Exception:  # the store is an adapter: any failure means "unreachable"
                self._cache.store_failed()
                key = self._cache.get_stale(digest)
                if key is None:
                    raise  # an unknown key cannot be verified without the store: the caller's 503
                return key, key.state(utc(self._clock))
            self._cache.store_answered()
            if key is None:
                return None, None
            self._cache.put(key)
        return key, key.state(utc(self._clock))

    async def verify(self, plaintext: str | None) -> ApiKey:
        """The usable key for this plaintext, or AuthenticationFailed saying why not."""
        if not plaintext:
            raise AuthenticationFailed("missing API key: send it as 'Authorization: Bearer <key>'",
                                       code="missing_api_key")
        key, state = await self.lookup(plaintext)
        if key is None:
            raise AuthenticationFailed("invalid API key", code="invalid_api_key")
        if state != "active":
            raise AuthenticationFailed(f"API key is {state}", code=f"api_key_{state}")
        return key

    async def get(self, key_id: int) -> ApiKey:
        key = await self._store.get(key_id)
        if key is None:
            raise NotFound(f"no API key with id {key_id}")
        return key

    async def list(self, organization_id: str | None = None, include_inactive: bool = True,
                   limit: int = 100, offset: int = 0) -> list[ApiKey]:
        return await self._store.list(organization_id, include_inactive, limit, offset)

    async def update(self, key_id: int, changes: Mapping[str, Any]) -> ApiKey:
        clean = validate_changes(changes)
        clean["updated_at"] = utc(self._clock)
        key = await self._store.update(key_id, clean)
        if key is None:
            raise NotFound(f"no API key with id {key_id}")
        self._cache.forget(key.key_hash)
        return key

    async def revoke(self, key_id: int) -> ApiKey:
        """Revoke for good (unlike is_active=false, which can be undone)."""
        current = await self.get(key_id)
        if current.revoked_at is not None:
            return current
        now = utc(self._clock)
        key = await self._store.update(key_id, {"revoked_at": now, "is_active": False, "updated_at": now})
        if key is None:
            raise NotFound(f"no API key with id {key_id}")
        self._cache.forget(key.key_hash)
        return key

    async def delete(self, key_id: int) -> None:
        key = await self.get(key_id)
        if not await self._store.delete(key_id):
            raise NotFound(f"no API key with id {key_id}")
        self._cache.forget(key.key_hash)
