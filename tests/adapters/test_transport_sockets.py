"""The lean transport against real misbehaving servers on 127.0.0.1 (tests/adapters/raw_http.py):
pool bound and timeout, idle expiry, a stale keep-alive socket, malformed and oversized responses,
backpressure to a fast server, a write timeout to a server that stops reading."""

from __future__ import annotations

import asyncio

import httpx2
import pytest

from adapters.providers.errors import translate_transport_error
from adapters.providers.transport import FastTransport, ResponseTooLarge
from tests.adapters.raw_http import RawServer, Request, response
from tests.clock import FrozenClock


async def test_pool_bound_holds_under_concurrency() -> None:
    release = asyncio.Event()

    async def held(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        await release.wait()
        writer.write(response(body=request.target.encode()))
        await writer.drain()
        return True

    async with RawServer(held) as server, httpx2.AsyncClient(
            transport=FastTransport(max_connections_per_host=3)) as http:
        calls = [asyncio.create_task(http.get(server.url(f"/{i}"))) for i in range(20)]
        while len(server.requests) < 3:
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # time for a fourth connection, were the bound broken
        assert server.open_now == 3 and len(server.requests) == 3
        release.set()
        answers = await asyncio.gather(*calls)
    assert [a.text for a in answers] == [f"/{i}" for i in range(20)]
    assert server.peak_open == 3 and server.connections == 3


async def test_pool_timeout_when_every_connection_is_busy() -> None:
    release = asyncio.Event()

    async def held(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        await release.wait()
        writer.write(response())
        return True

    async with RawServer(held) as server, httpx2.AsyncClient(
            transport=FastTransport(max_connections_per_host=1)) as http:
        first = asyncio.create_task(http.get(server.url()))
        while not server.requests:
            await asyncio.sleep(0.005)
        with pytest.raises(httpx2.PoolTimeout):
            await http.get(server.url(), timeout=httpx2.Timeout(5.0, pool=0.05))
        release.set()
        assert (await first).status_code == 200
        assert (await http.get(server.url())).status_code == 200  # the slot came back


async def test_idle_connections_expire_by_the_clock() -> None:
    clock = FrozenClock()
    async with RawServer() as server, httpx2.AsyncClient(
            transport=FastTransport(idle_expiry_s=4.0, clock=clock)) as http:
        await http.get(server.url())
        clock.t += 3.9
        await http.get(server.url())
        assert server.connections == 1  # young enough: reused
        clock.t += 4.1
        await http.get(server.url())
        assert server.connections == 2  # idled past the expiry: closed, a new one opened
        await asyncio.sleep(0.05)
        assert server.open_now == 1  # and the expired one is really closed


async def test_a_stale_keep_alive_socket_is_retried_once_on_a_new_connection() -> None:
    async def second_request_closes(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 1:  # as if the idle timeout fired just as the request arrived
            return False
        writer.write(response(body=b"fresh"))
        return True

    async with RawServer(second_request_closes) as server, httpx2.AsyncClient(transport=FastTransport()) as http:
        assert (await http.get(server.url("/1"))).text == "fresh"
        assert (await http.get(server.url("/2"))).text == "fresh"
        assert (await http.post(server.url("/3"), content=b"k", headers={"Idempotency-Key": "k1"})).text == "fresh"
    assert server.connections == 3
    assert [r.target for r in server.requests] == ["/1", "/2", "/2", "/3", "/3"]


async def test_a_post_dropped_on_a_reused_socket_is_not_resent() -> None:
    async def second_request_closes(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        if index == 1:  # the server may have acted on it before dropping the connection
            return False
        writer.write(response(body=b"fresh"))
        return True

    async with RawServer(second_request_closes) as server, httpx2.AsyncClient(transport=FastTransport()) as http:
        await http.post(server.url(), content=b"1")
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(server.url(), content=b"2")
    assert [r.body for r in server.requests] == [b"1", b"2"]


async def test_no_retry_on_a_new_connection_or_after_response_bytes() -> None:
    async def close_at_once(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        return False

    async with RawServer(close_at_once) as server, httpx2.AsyncClient(transport=FastTransport()) as http:
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(server.url(), content=b"x")
    assert len(server.requests) == 1  # a fresh connection that fails is not a stale one

    async def half_an_answer_second_time(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(response(body=b"whole") if index == 0 else b"HTTP/1.1 200 OK\r\nContent-Len")
        return index == 0

    async with RawServer(half_an_answer_second_time) as server, httpx2.AsyncClient(transport=FastTransport()) as http:
        await http.post(server.url(), content=b"1")
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.post(server.url(), content=b"2")
    assert len(server.requests) == 2  # the server had started answering: the request may have acted


@pytest.mark.parametrize("raw", [b"HTTQ/1.1 200 OK\r\n\r\n", b"HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx",
                                 b"HTTP/1.1 200 OK\r\nContent-Length: zz\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"])
async def test_malformed_responses_are_protocol_errors(raw: bytes) -> None:
    async def garbage(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(raw)
        await writer.drain()
        await asyncio.sleep(0.5)
        return False

    async with RawServer(garbage) as server, httpx2.AsyncClient(transport=FastTransport()) as http:
        with pytest.raises(httpx2.RemoteProtocolError):
            await http.get(server.url())


async def test_response_bodies_are_bounded() -> None:
    async def big(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        if request.target == "/declared":
            writer.write(response(body=b"x" * 5000))
        else:  # chunked: no length to judge by until the bytes arrive
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(5):
                writer.write(b"3e8\r\n" + b"y" * 1000 + b"\r\n")
            writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async with RawServer(big) as server, httpx2.AsyncClient(
            transport=FastTransport(max_response_bytes=4096)) as http:
        with pytest.raises(ResponseTooLarge):
            await http.get(server.url("/declared"))
        with pytest.raises(ResponseTooLarge) as caught:
            await http.get(server.url("/chunked"))
    error = translate_transport_error(caught.value, "p")
    assert "too large" in error.message and error.retryable is False


async def test_a_slow_reader_pushes_back_on_the_server() -> None:
    total = 48 * 1024 * 1024
    sent = 0

    async def firehose(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        nonlocal sent
        writer.write(f"HTTP/1.1 200 OK\r\nContent-Length: {total}\r\n\r\n".encode())
        block = b"z" * 65536
        for _ in range(total // len(block)):
            writer.write(block)
            await writer.drain()
            sent += len(block)
        return True

    transport = FastTransport(max_response_bytes=total)
    async with RawServer(firehose) as server, httpx2.AsyncClient(transport=transport) as http:
        async with http.stream("GET", server.url()) as reply:
            chunks = reply.aiter_raw()
            received = len(await anext(chunks))
            before = -1
            while sent != before:  # the consumer stalls: wait until the server cannot send more
                before = sent
                await asyncio.sleep(0.05)
            assert sent < total // 3  # without backpressure the whole body would sit in memory
            async for chunk in chunks:
                received += len(chunk)
    assert received == total


async def test_write_timeout_when_the_server_stops_reading() -> None:
    stop = asyncio.Event()

    async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await stop.wait()  # reads nothing: the body fills the kernel buffers, then the client waits
        writer.close()

    deaf_server = await asyncio.start_server(deaf, "127.0.0.1", 0)
    port = deaf_server.sockets[0].getsockname()[1]
    async with httpx2.AsyncClient(transport=FastTransport()) as http:
        with pytest.raises(httpx2.WriteTimeout):
            await http.post(f"http://127.0.0.1:{port}/", content=b"w" * (64 * 1024 * 1024),
                            timeout=httpx2.Timeout(5.0, write=0.2))
    stop.set()
    deaf_server.close()
    await deaf_server.wait_closed()

