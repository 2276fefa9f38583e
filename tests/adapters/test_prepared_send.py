"""DirectSender through the shared pool (`SharedClient.send_prepared`: URL, headers and timeouts
prepared once, httpx2's per-request pipeline skipped) puts on the wire what the standard httpx2
path puts there: a real server on 127.0.0.1 reads both (tests/adapters/raw_http.py)."""

from __future__ import annotations

import asyncio

import httpx2
import orjson
import pytest

from adapters.providers.direct import DirectSender
from adapters.providers.factory import shared_http_client
from adapters.providers.transport import FastTransport
from domain.errors import UpstreamError
from tests.adapters.raw_http import RawServer, Request, response

SDK_HEADERS = {"Authorization": "Bearer sk-test", "User-Agent": "OpenAI/Python 1.0", "X-Stainless-Lang": "python",
               "Content-Type": "application/json"}
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


async def _sent(http: httpx2.AsyncClient, server: RawServer, path: str,
                extra: dict[str, str] | None = None) -> tuple[str, str, dict[str, str], bytes]:
    sender = DirectSender(http, server.url("/v1"), SDK_HEADERS, 30.0, "up")
    payload = await sender.post_json(path, BODY, extra_headers=extra)
    assert payload == {"ok": True}
    request = server.requests[-1]
    return request.method, request.target, request.headers, request.body


async def test_the_prepared_path_sends_what_the_standard_path_sends() -> None:
    ok = response(body=orjson.dumps({"ok": True}), headers={"content-type": "application/json"})

    async def answer(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(ok)
        return True

    async with RawServer(answer) as server:
        async with httpx2.AsyncClient(transport=FastTransport()) as standard, shared_http_client() as shared:
            assert type(standard) is not type(shared)
            for extra in (None, {"anthropic-beta": "tools-1", "User-Agent": "client's own"}):
                for path in ("/chat/completions", "/chat/completions", "/models/m:generateContent?alt=sse"):
                    expected = await _sent(standard, server, path, extra)
                    assert await _sent(shared, server, path, extra) == expected
    method, target, headers, body = expected
    assert (method, target) == ("POST", "/v1/models/m:generateContent?alt=sse")
    assert orjson.loads(body) == BODY and headers["content-length"] == str(len(body))
    assert headers["user-agent"] == "OpenAI/Python 1.0"  # the SDK's header wins over the client's own
    assert headers["anthropic-beta"] == "tools-1" and headers["authorization"] == "Bearer sk-test"
    assert headers["host"] == server.url("").split("//")[1].rstrip("/")


async def test_an_error_status_through_the_prepared_path_is_an_upstream_error() -> None:
    async def refuse(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
        writer.write(response(429, orjson.dumps({"error": {"message": "slow down"}}), headers={"retry-after": "3"}))
        return True

    async with RawServer(refuse) as server, shared_http_client() as shared:
        sender = DirectSender(shared, server.url("/v1"), SDK_HEADERS, 30.0, "up")
        with pytest.raises(UpstreamError) as raised:
            await sender.post_json("/chat/completions", BODY)
    assert raised.value.status == 429 and raised.value.retry_after == 3 and "slow down" in str(raised.value)


async def test_a_closed_shared_client_sends_nothing() -> None:
    async with RawServer() as server:
        shared = shared_http_client()
        await shared.aclose()
        sender = DirectSender(shared, server.url("/v1"), SDK_HEADERS, 30.0, "up")
        with pytest.raises(RuntimeError, match="closed"):
            await sender.post_json("/chat/completions", BODY)
    assert server.requests == []
