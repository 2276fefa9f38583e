"""Real Redis, PostgreSQL and MariaDB for integration and end-to-end tests (shared by every test folder).

Found in this order: TEST_REDIS_URL / TEST_DATABASE_URL / TEST_MYSQL_URL; a server already listening on the
default local port; testcontainers when a Docker engine is available; otherwise the test is
skipped with the reason — unless ADAPTIVE_PROXY_REQUIRE_SERVICES=1 (set by .ci/run), which turns
that skip into a failure. Each run gets its own PostgreSQL and MariaDB database (random name, dropped at the
end) and its own Redis key prefix, so runs sharing the servers never see each other's state.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator

import pytest

REQUIRE = os.environ.get("ADAPTIVE_PROXY_REQUIRE_SERVICES") == "1"


def _unavailable(reason: str) -> None:
    if REQUIRE:
        pytest.fail(f"{reason} (ADAPTIVE_PROXY_REQUIRE_SERVICES=1: a missing service is a failure)")
    pytest.skip(reason)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _docker_available() -> bool:
    try:
        import docker

        docker.from_env().ping()
        return True
    except Exception:  # any failure means "no engine here"
        return False


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    explicit = os.environ.get("TEST_REDIS_URL")
    if explicit:
        yield explicit
        return
    if _listening("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/0"
        return
    if _docker_available():
        from testcontainers.redis import RedisContainer

        with RedisContainer() as container:
            yield f"redis://{container.get_container_host_ip()}:{container.get_exposed_port(6379)}/0"
        return
    _unavailable("no Redis: set TEST_REDIS_URL, run one on 127.0.0.1:6379, or provide a Docker engine")


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[tuple[str, str]]:
    """(url, key prefix unique to this test); the prefix's keys are deleted afterwards."""
    import redis

    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield redis_server_url, prefix
    client = redis.Redis.from_url(redis_server_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _postgres_server() -> Iterator[str]:
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    if _listening("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/test"
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:16") as container:
            yield container.get_connection_url(driver=None)
        return
    _unavailable("no PostgreSQL: set TEST_DATABASE_URL, run one on 127.0.0.1:5432, or provide a Docker engine")


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    yield from _postgres_server()


@pytest.fixture(scope="session")
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """An async SQLAlchemy URL (postgresql+asyncpg) of a database created for this run only."""
    import asyncpg

    name = f"adaptive_proxy_test_{uuid.uuid4().hex[:10]}"
    admin_url = postgres_server_url.replace("postgresql+asyncpg://", "postgresql://")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    try:
        yield f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{name}"
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _mariadb_server() -> Iterator[str]:
    explicit = os.environ.get("TEST_MYSQL_URL")
    if explicit:
        yield explicit
        return
    if _listening("127.0.0.1", 3306):
        yield "mysql://root@127.0.0.1:3306/test"
        return
    if _docker_available():
        from testcontainers.mysql import MySqlContainer

        with MySqlContainer("mariadb:11") as container:
            yield container.get_connection_url().replace("mysql+pymysql://", "mysql://", 1)
        return
    _unavailable("no MariaDB/MySQL: set TEST_MYSQL_URL, run one on 127.0.0.1:3306, or provide a Docker engine")


@pytest.fixture(scope="session")
def mariadb_server_url() -> Iterator[str]:
    yield from _mariadb_server()


@pytest.fixture(scope="session")
def mariadb_url(mariadb_server_url: str) -> Iterator[str]:
    """An async SQLAlchemy URL (mysql+aiomysql) of a MariaDB/MySQL database created for this run only."""
    import pymysql
    from sqlalchemy.engine import make_url

    admin = make_url(mariadb_server_url)
    name = f"adaptive_proxy_test_{uuid.uuid4().hex[:10]}"

    def run(sql: str) -> None:
        conn = pymysql.connect(host=admin.host or "127.0.0.1", port=admin.port or 3306, user=admin.username or "root",
                               password=admin.password or "", database=admin.database or None)
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
        finally:
            conn.close()

    run(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield admin.set(drivername="mysql+aiomysql", database=name).render_as_string(hide_password=False)
    finally:
        run(f"DROP DATABASE IF EXISTS `{name}`")
