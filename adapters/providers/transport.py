"""A lean HTTP/1.1 keep-alive transport for httpx2, on asyncio protocols and httptools.

The official SDKs talk through `httpx2.AsyncClient`; its default transport (httpcore2 on
anyio) was a third of the gateway's CPU per request in profiles. This transport does the same
job for the one thing the gateway needs — many small requests to a few upstream hosts over
pooled HTTP/1.1 connections, TLS included — with far less per-request work. It raises httpx2's
own exception types, so the SDKs map failures exactly as before. No HTTP/2.

What it takes from the environment, like any HTTP client: `HTTPS_PROXY` / `HTTP_PROXY` /
`NO_PROXY` (https through a `CONNECT` tunnel, http in absolute form; read once, when the transport
is built) and the system's trust store (`truststore`), so a corporate TLS-inspecting proxy works.

Bounds: a write timeout (httpx2's `write`), read backpressure (the socket stops being read while
more than `_HIGH_WATER` bytes wait for a slow consumer), response heads of at most
`_MAX_HEAD_BYTES` and bodies of at most `max_response_bytes` (a clear `ResponseTooLarge`).
A keep-alive connection the server had already closed is retried once on a fresh one, for an
idempotent request (method, or an Idempotency-Key header) of which not one response byte arrived.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httptools
import httpx2
import truststore

from application.clock import SYSTEM_CLOCK
from domain.ports import Clock

_DEFAULT_TIMEOUT = 60.0
_HIGH_WATER = 256 * 1024  # buffered, unread body bytes at which the socket stops being read
_LOW_WATER = 64 * 1024  # ... and at which it is read again
_MAX_HEAD_BYTES = 64 * 1024
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
_IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class ResponseTooLarge(httpx2.RemoteProtocolError):
    """The upstream's response exceeded the transport's bound; the connection is dropped."""


def system_ssl_context() -> ssl.SSLContext:
    """Verification against the operating system's trust store (where a corporate CA lives)."""
    return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection; answers one request at a time."""

    def __init__(self, max_body: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.max_body = max_body
        self.reading_paused = False
        self.writable: asyncio.Future[None] | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.keep_alive = False
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.chunks: deque[bytes] = deque()
        self.buffered = 0  # bytes in `chunks`
        self.received = 0  # bytes of this response seen so far (head and body)
        self.body_bytes = 0
        self.complete = False
        self.error: Exception | None = None
        self.wakeup: asyncio.Future[None] | None = None
        if self.reading_paused:
            self._resume()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        if self.error is not None:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(httpx2.RemoteProtocolError(f"invalid HTTP response: {exc}"))
        if self.error is not None:
            self.close()
        elif not self.head_done.done() and self.received > _MAX_HEAD_BYTES:
            self._fail(httpx2.RemoteProtocolError(f"response head larger than {_MAX_HEAD_BYTES} bytes"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete:
            self._fail(httpx2.RemoteProtocolError("server closed the connection before the response ended"))
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)

    def pause_writing(self) -> None:
        self.writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.writable is not None and not self.writable.done():
            self.writable.set_result(None)
        self.writable = None

    def _resume(self) -> None:
        self.reading_paused = False
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        # Only meaningful inside a parser callback: after the message it reads as False.
        self.keep_alive = self.parser.should_keep_alive()
        length = next((v for k, v in self.headers if k.lower() == b"content-length"), None)
        if length is not None and length.strip().isdigit() and int(length) > self.max_body:
            self._fail(ResponseTooLarge(f"response body of {int(length)} bytes, more than {self.max_body}"))
            return
        if not self.head_done.done():
            self.head_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.body_bytes += len(body)
        if self.body_bytes > self.max_body:
            self._fail(ResponseTooLarge(f"response body larger than {self.max_body} bytes"))
            return
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > _HIGH_WATER and not self.reading_paused and self.transport is not None:
            self.reading_paused = True  # the consumer lags: let TCP push back on the server
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = self.error is None
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
        while not self.chunks or self.error is not None:
            if self.error is not None:
                raise self.error
            if self.complete:
                return None
            self.wakeup = asyncio.get_running_loop().create_future()
            try:
                async with asyncio.timeout(timeout):
                    await self.wakeup
            except TimeoutError:
                raise httpx2.ReadTimeout("timed out reading the response body") from None
        chunk = self.chunks.popleft()
        self.buffered -= len(chunk)
        if self.reading_paused and self.buffered <= _LOW_WATER:
            self._resume()
        return chunk

    async def write(self, payload: bytes, timeout: float | None) -> None:
        """Send `payload`; waits (up to `timeout`) while the socket's send buffer is full."""
        assert self.transport is not None
        self.transport.write(payload)
        if self.writable is not None:
            try:
                async with asyncio.timeout(timeout):
                    await self.writable
            except TimeoutError:
                raise httpx2.WriteTimeout("timed out sending the request") from None

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

    def __init__(self, limit: int, idle_expiry_s: float, clock: Clock) -> None:
        self.idle: deque[tuple[float, _Connection]] = deque()
        self.slots = asyncio.Semaphore(limit)
        self.idle_expiry_s = idle_expiry_s
        self.clock = clock

    def release(self, conn: _Connection) -> None:
        if conn.reusable():
            conn._reset()
            self.idle.append((self.clock.monotonic(), conn))
        else:
            conn.close()
        self.slots.release()

    def take(self) -> _Connection | None:
        """The most recently used live idle connection, closing any that idled too long."""
        now = self.clock.monotonic()
        while self.idle:
            since, conn = self.idle.pop()
            if conn.closed:
                continue
            if now - since > self.idle_expiry_s:
                conn.close()
                continue
            return conn
        return None


class _Route:
    """How to reach one origin: directly, through an HTTP proxy, or through a CONNECT tunnel."""

    def __init__(self, proxy: str | None) -> None:
        self.proxy: tuple[str, int] | None = None
        self.proxy_auth: bytes | None = None
        if proxy:
            url = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            if url.scheme not in ("http", ""):
                raise ValueError(f"unsupported proxy scheme {url.scheme!r} in {proxy!r} (http:// proxies only)")
            self.proxy = (url.hostname or "", url.port or 80)
            if url.username:
                user = urllib.parse.unquote(url.username) + ":" + urllib.parse.unquote(url.password or "")
                self.proxy_auth = b"Basic " + base64.b64encode(user.encode())


def _proxy_for(scheme: str, host: str, port: int, proxies: Mapping[str, str]) -> str | None:
    """The proxy the standard variables choose for an origin (None: connect directly)."""
    proxy = proxies.get(scheme)
    if not proxy:
        return None
    no_proxy = proxies.get("no", "")
    if no_proxy and urllib.request.proxy_bypass_environment(  # type: ignore[attr-defined]
            f"{host}:{port}", {"no": no_proxy}):
        return None
    return proxy


class FastTransport(httpx2.AsyncBaseTransport):
    def __init__(self, max_connections_per_host: int = 512, ssl_context: ssl.SSLContext | None = None,
                 idle_expiry_s: float = 4.0, *, max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 proxies: Mapping[str, str] | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._limit = max_connections_per_host
        self._idle_expiry_s = idle_expiry_s
        self._max_body = max_response_bytes
        self._clock = clock
        self._pools: dict[tuple[bytes, bytes, int], _Pool] = {}
        self._routes: dict[tuple[bytes, bytes, int], _Route] = {}
        self._ssl = ssl_context
        # urllib reads HTTPS_PROXY / HTTP_PROXY / NO_PROXY, either case, as curl and requests do.
        self._proxies = dict(urllib.request.getproxies_environment() if proxies is None else proxies)

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = system_ssl_context()
        return self._ssl

    def _route(self, scheme: bytes, host: bytes, port: int) -> _Route:
        key = (scheme, host, port)
        route = self._routes.get(key)
        if route is None:
            proxy = _proxy_for(scheme.decode(), host.decode("ascii"), port, self._proxies)
            route = self._routes[key] = _Route(proxy)
        return route

    async def _connect(self, scheme: bytes, host: bytes, port: int, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        name = host.decode("ascii")
        tls = scheme == b"https"
        route = self._route(scheme, host, port)
        target = route.proxy or (name, port)
        try:
            async with asyncio.timeout(timeout):
                if tls and route.proxy is not None:
                    sock = await self._tunnel(route, name, port)
                    _, conn = await loop.create_connection(lambda: _Connection(self._max_body), sock=sock,
                                                           ssl=self._context(), server_hostname=name)
                else:
                    _, conn = await loop.create_connection(
                        lambda: _Connection(self._max_body), target[0], target[1],
                        ssl=self._context() if tls else None, server_hostname=name if tls else None)
        except TimeoutError:
            raise httpx2.ConnectTimeout(f"timed out connecting to {name}:{port}") from None
        except OSError as exc:  # ssl.SSLError included: a certificate that does not verify
            raise httpx2.ConnectError(f"could not connect to {name}:{port}: {exc}") from None
        return conn

    @staticmethod
    async def _tunnel(route: _Route, host: str, port: int) -> socket.socket:
        """A socket to the proxy on which `CONNECT host:port` succeeded (TLS starts on it next)."""
        assert route.proxy is not None
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(route.proxy[0], route.proxy[1], type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
            head = f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n".encode()
            if route.proxy_auth:
                head += b"Proxy-Authorization: " + route.proxy_auth + b"\r\n"
            await loop.sock_sendall(sock, head + b"\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply:  # the proxy sends nothing after its head until we speak TLS
                data = await loop.sock_recv(sock, 4096)
                if not data or len(reply) > _MAX_HEAD_BYTES:
                    raise OSError("the proxy closed the tunnel")
                reply += data
            status_line = reply.split(b"\r\n", 1)[0]
            if not status_line.split(b" ", 2)[1:2] or not status_line.split(b" ", 2)[1].startswith(b"2"):
                raise OSError(f"the proxy refused CONNECT: {status_line.decode(errors='replace')}")
        except BaseException:
            sock.close()
            raise
        return sock

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        url = request.url
        scheme, host = url.raw_scheme, url.raw_host
        port = url.port or (443 if scheme == b"https" else 80)
        timeouts: dict[str, Any] = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read", _DEFAULT_TIMEOUT)
        pool = self._pools.get((scheme, host, port))
        if pool is None:
            pool = self._pools[(scheme, host, port)] = _Pool(self._limit, self._idle_expiry_s, self._clock)
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
            route = self._route(scheme, host, port)
            head, keyed = self._head(request, host, port, len(body), route if scheme == b"http" else None)
            replayable = keyed or request.method in _IDEMPOTENT
            conn = await self._send(pool, scheme, host, port, head + body, timeouts, read_timeout, replayable)
        except BaseException:
            pool.slots.release()
            raise
        return httpx2.Response(conn.status, headers=conn.headers, stream=_Body(pool, conn, read_timeout),
                               extensions={"http_version": b"HTTP/1.1"})

    @staticmethod
    def _head(request: httpx2.Request, host: bytes, port: int, length: int,
              route: _Route | None = None) -> tuple[bytes, bool]:
        """The request head, and whether it carries an Idempotency-Key (read here: asking
        `request.headers` would decode every header once more)."""
        # Through a plain-HTTP proxy the request line carries the absolute URL.
        target = str(request.url).encode("ascii") if route is not None and route.proxy else request.url.raw_path
        lines = [request.method.encode() + b" " + target + b" HTTP/1.1"]
        has_host = keyed = False
        for name, value in request.headers.raw:
            lower = name.lower()
            if lower == b"host":
                has_host = True
            elif lower == b"idempotency-key":
                keyed = True
            elif lower in (b"content-length", b"transfer-encoding"):
                continue
            lines.append(name + b": " + value)
        if not has_host:
            lines.append(b"Host: " + host + (b":" + str(port).encode() if port not in (80, 443) else b""))
        if route is not None and route.proxy_auth:
            lines.append(b"Proxy-Authorization: " + route.proxy_auth)
        lines.append(b"Content-Length: " + str(length).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n", keyed

    async def _send(self, pool: _Pool, scheme: bytes, host: bytes, port: int, payload: bytes,
                    timeouts: Mapping[str, Any], read_timeout: float | None,
                    replayable: bool = False) -> _Connection:
        # A keep-alive connection can be closed by the server just as we reuse it. An idempotent
        # request (by method, or one carrying an Idempotency-Key) that got not one byte back is
        # sent once more on a new connection. Anything else is final: a server that read a POST
        # and then dropped the connection may have acted on it.
        reused = pool.take()
        conn = reused or await self._connect(scheme, host, port, timeouts.get("connect"))
        try:
            await self._exchange(conn, payload, timeouts.get("write"), read_timeout)
        except httpx2.RemoteProtocolError:
            if reused is None or not replayable or conn.received or not conn.closed:
                raise
            conn = await self._connect(scheme, host, port, timeouts.get("connect"))
            await self._exchange(conn, payload, timeouts.get("write"), read_timeout)
        return conn

    async def _exchange(self, conn: _Connection, payload: bytes, write_timeout: float | None,
                        read_timeout: float | None) -> None:
        try:
            await conn.write(payload, write_timeout)
            await self._await_head(conn, read_timeout)
        except BaseException:
            conn.close()
            raise

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
