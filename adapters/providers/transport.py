"""A lean HTTP/1.1 keep-alive transport for httpx2, on asyncio protocols and httptools.

The official SDKs talk through `httpx2.AsyncClient`; its default transport (httpcore2 on
anyio) was a third of the gateway's CPU per request in profiles. This transport does the same
job for the one thing the gateway needs — many small requests to a few upstream hosts over
pooled HTTP/1.1 connections, TLS included — with far less per-request work. It raises httpx2's
own exception types, so the SDKs map failures exactly as before. No proxies, no HTTP/2.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

import httptools
import httpx2

_DEFAULT_TIMEOUT = 60.0


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; answers one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.used = False
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.keep_alive = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chunks: deque[bytes] = deque()
        self.complete = False
        self.error: Exception | None = None
        self.wakeup: asyncio.Future[None] | None = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx2.RemoteProtocolError(f"invalid HTTP response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(httpx2.RemoteProtocolError("server closed the connection before the response ended"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        # Only meaningful inside a parser callback: after the message it reads as False.
        self.keep_alive = self.parser.should_keep_alive()
        if not self.head_done.done():
            self.head_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    def _fail(self, exc: Exception) -> None:
        self.error = exc
        if not self.head_done.done():
            self.head_done.set_exception(exc)
            self.head_done.exception()  # mark retrieved: the waiter may be gone already
        self._wake()

    def _wake(self) -> None:
        if self.wakeup is not None and not self.wakeup.done():
            self.wakeup.set_result(None)

    async def next_chunk(self, timeout: float | None) -> bytes | None:
        """The next body bytes, or None at the end of the body."""
        while not self.chunks:
            if self.complete:
                return None
            if self.error is not None:
                raise self.error
            self.wakeup = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self.wakeup
            except TimeoutError:
                raise httpx2.ReadTimeout("timed out reading the response body") from None
        return self.chunks.popleft()

    def reusable(self) -> bool:
        return self.complete and not self.closed and self.error is None and self.keep_alive

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Body(httpx2.AsyncByteStream):
    def __init__(self, pool: _Pool, conn: _Connection, timeout: float | None) -> None:
        self._pool, self._conn, self._timeout = pool, conn, timeout
        self._released = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            while True:
                chunk = await self._conn.next_chunk(self._timeout)
                if chunk is None:
                    break
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if not self._released:
            self._released = True
            self._pool.release(self._conn)


class _Pool:
    """Idle connections for one origin, and a bound on how many are open at once."""

    def __init__(self, limit: int, idle_expiry_s: float) -> None:
        self.idle: deque[tuple[float, _Connection]] = deque()
        self.slots = asyncio.Semaphore(limit)
        self.idle_expiry_s = idle_expiry_s

    def release(self, conn: _Connection) -> None:
        if conn.reusable():
            conn._reset()
            self.idle.append((time.monotonic(), conn))
        else:
            conn.close()
        self.slots.release()

    def take(self) -> _Connection | None:
        """The most recently used live idle connection, closing any that idled too long."""
        now = time.monotonic()
        while self.idle:
            since, conn = self.idle.pop()
            if conn.closed:
                continue
            if now - since > self.idle_expiry_s:
                conn.close()
                continue
            return conn
        return None


class FastTransport(httpx2.AsyncBaseTransport):
    def __init__(self, max_connections_per_host: int = 512, ssl_context: ssl.SSLContext | None = None,
                 idle_expiry_s: float = 4.0) -> None:
        self._limit = max_connections_per_host
        self._idle_expiry_s = idle_expiry_s
        self._pools: dict[tuple[bytes, bytes, int], _Pool] = {}
        self._ssl = ssl_context

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def _connect(self, scheme: bytes, host: bytes, port: int, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = scheme == b"https"
        try:
            _, conn = await asyncio.wait_for(loop.create_connection(
                _Connection, host.decode("ascii"), port, ssl=self._context() if tls else None,
                server_hostname=host.decode("ascii") if tls else None), timeout)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"timed out connecting to {host.decode()}:{port}") from None
        except OSError as exc:
            raise httpx2.ConnectError(f"could not connect to {host.decode()}:{port}: {exc}") from None
        return conn

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme, host = url.raw_scheme, url.raw_host
        port = url.port or (443 if scheme == b"https" else 80)
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read", _DEFAULT_TIMEOUT)
        pool = self._pools.get((scheme, host, port))
        if pool is None:
            pool = self._pools[(scheme, host, port)] = _Pool(self._limit, self._idle_expiry_s)
        try:
            async with asyncio.timeout(timeouts.get("pool", _DEFAULT_TIMEOUT)):
                await pool.slots.acquire()
        except TimeoutError:
            raise httpx2.PoolTimeout("no free connection in the pool") from None
        try:
            try:
                body = request.content
            except httpx2.RequestNotRead:
                body = b"".join([part async for part in request.stream])  # type: ignore[union-attr]
            head = self._head(request, host, port, len(body))
            conn = await self._send(pool, scheme, host, port, head + body, timeouts.get("connect"), read_timeout)
        except BaseException:
            pool.slots.release()
            raise
        return httpx2.Response(conn.status, headers=conn.headers, stream=_Body(pool, conn, read_timeout),
                               extensions={"http_version": b"HTTP/1.1"})

    @staticmethod
    def _head(request: httpx2.Request, host: bytes, port: int, length: int) -> bytes:
        lines = [request.method.encode() + b" " + request.url.raw_path + b" HTTP/1.1"]
        has_host = False
        for name, value in request.headers.raw:
            lower = name.lower()
            if lower == b"host":
                has_host = True
            elif lower in (b"content-length", b"transfer-encoding"):
                continue
            lines.append(name + b": " + value)
        if not has_host:
            lines.append(b"Host: " + host + (b":" + str(port).encode() if port not in (80, 443) else b""))
        lines.append(b"Content-Length: " + str(length).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n"

    async def _send(self, pool: _Pool, scheme: bytes, host: bytes, port: int, payload: bytes,
                    connect_timeout: float | None, read_timeout: float | None) -> _Connection:
        # A request is never re-sent: the server may have acted on it before closing. Idle
        # connections expire before common servers' keep-alive timeouts instead, which keeps
        # the race (the server closing an idle connection as we write) rare.
        conn = pool.take() or await self._connect(scheme, host, port, connect_timeout)
        assert conn.transport is not None
        conn.transport.write(payload)
        try:
            await self._await_head(conn, read_timeout)
        except BaseException:
            conn.close()
            raise
        return conn

    @staticmethod
    async def _await_head(conn: _Connection, timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):
                await conn.head_done
        except TimeoutError:
            raise httpx2.ReadTimeout("timed out waiting for the response") from None

    async def aclose(self) -> None:
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop()[1].close()
        self._pools.clear()
