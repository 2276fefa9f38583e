"""TLS to a local server whose certificate a self-signed CA signed, the system trust store by
default, and proxies chosen by HTTPS_PROXY / HTTP_PROXY / NO_PROXY — all on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from adapters.providers.transport import FastTransport
from tests.adapters.raw_http import Proxy, RawServer, Request, make_certificates

_PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "ALL_PROXY",
               "all_proxy")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def server_tls(certificates: tuple[Path, Path, Path]) -> ssl.SSLContext:
    _, cert, key = certificates
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def client_tls(certificates: tuple[Path, Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificates[0]))


@pytest.fixture(autouse=True)
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    yield


async def test_tls_with_the_trusted_ca(server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    async with RawServer(ssl_context=server_tls) as server, httpx2.AsyncClient(
            transport=FastTransport(ssl_context=client_tls)) as http:
        for i in range(3):
            assert (await http.get(server.url(f"/t{i}"))).text == f"ok /t{i}"
    assert server.connections == 1  # TLS connections are pooled too


async def test_an_untrusted_certificate_is_refused_by_the_system_store(server_tls: ssl.SSLContext) -> None:
    async with RawServer(ssl_context=server_tls) as server, httpx2.AsyncClient(transport=FastTransport()) as http:
        with pytest.raises(httpx2.ConnectError, match="certificate"):
            await http.get(server.url())
    assert server.requests == []


async def test_https_through_a_connect_proxy_from_the_environment(
        monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext) -> None:
    async with Proxy() as proxy, RawServer(ssl_context=server_tls) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        async with httpx2.AsyncClient(transport=FastTransport(ssl_context=client_tls)) as http:
            assert (await http.get(server.url("/a"))).text == "ok /a"
            assert (await http.get(server.url("/b"))).text == "ok /b"
    assert proxy.seen == [f"CONNECT 127.0.0.1:{server.port} auth=True"]  # one tunnel, reused
    assert [r.target for r in server.requests] == ["/a", "/b"]
    assert "proxy-authorization" not in server.requests[0].headers  # the origin never sees it


async def test_http_through_a_proxy_in_absolute_form(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Proxy() as proxy, RawServer() as server:
        monkeypatch.setenv("http_proxy", proxy.url)
        async with httpx2.AsyncClient(transport=FastTransport()) as http:
            assert (await http.get(server.url("/p?q=1"))).text == "ok /p?q=1"
    assert proxy.seen == [f"GET http://127.0.0.1:{server.port}/p?q=1 auth=True"]


async def test_no_proxy_bypasses_the_proxy(monkeypatch: pytest.MonkeyPatch, server_tls: ssl.SSLContext,
                                           client_tls: ssl.SSLContext) -> None:
    async with Proxy() as proxy, RawServer(ssl_context=server_tls) as server:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "example.com,127.0.0.1")
        async with httpx2.AsyncClient(transport=FastTransport(ssl_context=client_tls)) as http:
            assert (await http.get(server.url("/direct"))).text == "ok /direct"
    assert proxy.seen == []


async def _refuse(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
    writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
    return False


async def test_a_proxy_that_refuses_connect_is_a_connect_error() -> None:
    async with RawServer(_refuse) as refusing:
        transport = FastTransport(proxies={"https": f"http://127.0.0.1:{refusing.port}"})
        async with httpx2.AsyncClient(transport=transport) as http:
            with pytest.raises(httpx2.ConnectError, match="407"):
                await http.get("https://127.0.0.1:9/")
