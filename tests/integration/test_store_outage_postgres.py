"""A PostgreSQL outage seen through a TCP forwarder the test can cut: keys verified before the
outage keep working for the cache's grace, unknown keys are refused, and /health's database
probe reports the outage (and the recovery)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from adapters.sql.engine import create_engine, database_probe
from adapters.sql.keys import SqlApiKeyStore
from adapters.sql.migrate import upgrade
from application.health import HealthService, status_section
from application.keys import KeyCache, KeyService
from application.settings import Settings
from domain.errors import AuthenticationFailed
from tests.clock import FrozenClock

pytestmark = pytest.mark.integration


class Forwarder:
    """127.0.0.1:<port> -> the database; `cut()` closes the listener and every live connection."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
async def forwarder(postgres_url: str) -> AsyncIterator[tuple[Forwarder, str]]:
    url = make_url(postgres_url)
    await upgrade_once(postgres_url)
    forward = Forwarder(url.host or "127.0.0.1", url.port or 5432)
    await forward.start()
    yield forward, url.set(host="127.0.0.1", port=forward.port).render_as_string(hide_password=False)
    with contextlib.suppress(Exception):
        await forward.cut()


async def upgrade_once(url: str) -> None:
    engine = create_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


async def test_verified_keys_survive_a_database_outage_for_the_grace_only(
        forwarder: tuple[Forwarder, str]) -> None:
    forward, url = forwarder
    engine = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=2)
    clock = FrozenClock()
    cache = KeyCache(ttl_s=0, grace_s=60, clock=clock)
    keys = KeyService(SqlApiKeyStore(engine), cache)
    try:
        known = await keys.issue("known")
        stranger = await keys.issue("never verified")
        assert (await keys.verify(known.plaintext)).id == known.key.id
        assert cache.status()["degraded"] is False

        await forward.cut()
        clock.t += 30
        assert (await keys.verify(known.plaintext)).id == known.key.id  # from the grace
        with pytest.raises(Exception) as refused:  # unknown: the store's failure, which the gate makes a 503
            await keys.verify(stranger.plaintext)
        assert not isinstance(refused.value, AuthenticationFailed)
        status = cache.status()
        assert status["degraded"] is True and status["served_from_grace"] == 1
        assert "store_down_since" in status

        clock.t += 31  # past ttl + grace: no longer served
        with pytest.raises(Exception) as expired:
            await keys.verify(known.plaintext)
        assert not isinstance(expired.value, AuthenticationFailed)
    finally:
        await engine.dispose()


async def test_health_probes_the_database_and_reports_the_key_grace(forwarder: tuple[Forwarder, str]) -> None:
    forward, url = forwarder
    engine = create_engine(url)
    cache = KeyCache(ttl_s=0, grace_s=60, clock=FrozenClock())
    keys = KeyService(SqlApiKeyStore(engine), cache)
    health = HealthService(Settings(), probes={"database": database_probe(engine, timeout_s=2)},
                           sections={"api_keys": status_section(cache.status)}, clock=FrozenClock(0))
    try:
        issued = await keys.issue("k")
        await keys.verify(issued.plaintext)
        ok, report = await health.report()
        assert ok and report["status"] == "healthy" and report["timestamp"] == "1970-01-01T00:00:00Z"
        assert report["components"]["database"] == {"status": "up", "mode": "postgresql"}

        await forward.cut()
        await keys.verify(issued.plaintext)  # served from the grace
        ok, report = await health.report()
        assert not ok and report["status"] == "unhealthy"
        assert report["components"]["database"]["status"] == "down"
        assert report["api_keys"]["degraded"] is True
    finally:
        await engine.dispose()


async def test_a_store_that_answers_again_ends_the_grace(forwarder: tuple[Forwarder, str]) -> None:
    forward, url = forwarder
    engine = create_engine(url)
    cache = KeyCache(ttl_s=0, grace_s=60, clock=FrozenClock())
    keys = KeyService(SqlApiKeyStore(engine), cache)
    try:
        issued = await keys.issue("k")
        await keys.verify(issued.plaintext)
        await forward.cut()
        await keys.verify(issued.plaintext)
        assert cache.status()["degraded"] is True
        await forward.start()  # same port: the database is back
        await keys.verify(issued.plaintext)
        assert cache.status()["degraded"] is False
    finally:
        await engine.dispose()


async def test_a_ledger_outage_fails_closed_while_keys_ride_the_grace(forwarder: tuple[Forwarder, str]) -> None:
    """Decided and documented (README, "Outages"): credits fail closed. A verified key is still
    admitted during a database outage when credits are off; with credits on, the balance cannot
    be checked, so the request is refused with 503 — never served unpaid, never a 500."""
    from decimal import Decimal

    from adapters.memory.rate_limiter import InMemoryRateLimiter
    from adapters.sql.credits import SqlCreditLedger
    from application.access import AccessGate
    from application.metering import PendingSpend
    from domain.credits import Grant
    from domain.errors import ServiceUnavailable

    forward, url = forwarder
    engine = create_engine(url)
    cache = KeyCache(ttl_s=0, grace_s=60, clock=FrozenClock())
    keys = KeyService(SqlApiKeyStore(engine), cache)
    ledger = SqlCreditLedger(engine)

    def gate(credits: bool) -> AccessGate:
        settings = Settings.model_validate({"auth": {"api_keys": True}, "credits": {"enabled": credits}})
        return AccessGate(settings, keys, InMemoryRateLimiter(), ledger, PendingSpend())

    try:
        issued = await keys.issue("k", organization_id="org-outage")
        await ledger.grant(Grant(organization_id="org-outage", amount=Decimal("5"), type="promotional"))
        assert (await gate(credits=True).admit(issued.plaintext)).key is not None  # normal service

        await forward.cut()
        assert (await gate(credits=False).admit(issued.plaintext)).key is not None
        with pytest.raises(ServiceUnavailable, match="credit ledger unavailable"):
            await gate(credits=True).admit(issued.plaintext)
    finally:
        await engine.dispose()
