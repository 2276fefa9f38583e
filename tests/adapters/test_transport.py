"""The lean transport under the official openai SDK, against the real fake upstream server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest
import uvicorn

from adapters.providers.transport import FastTransport
from devtools.fake_upstream import create_app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning",
                                           timeout_keep_alive=1))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    await task


@pytest.fixture
async def client(upstream: str) -> AsyncIterator[openai.AsyncOpenAI]:
    http = httpx2.AsyncClient(transport=FastTransport(max_connections_per_host=4, idle_expiry_s=0.5))
    yield openai.AsyncOpenAI(base_url=upstream, api_key="k", http_client=http, max_retries=0)
    await http.aclose()


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


async def test_plain_and_streamed_replies(client: openai.AsyncOpenAI) -> None:
    reply = await client.chat.completions.create(model="m", messages=_user("hi there"))
    assert reply.choices[0].message.content == "Fake reply to: hi there"
    stream = await client.chat.completions.create(model="m", stream=True, messages=_user("a b c"))
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "Fake reply to: a b c"


async def test_failures_surface_as_the_sdk_errors(client: openai.AsyncOpenAI, upstream: str) -> None:
    with pytest.raises(openai.RateLimitError):
        await client.chat.completions.create(model="m", messages=_user("x [[fake:status=429]]"))
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="m", messages=_user("x [[fake:drop]]"))
    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.2).chat.completions.create(
            model="m", messages=_user("x [[fake:latency_ms=1000]]"))
    stream = await client.chat.completions.create(model="m", stream=True,
                                                  messages=_user("a b c d e [[fake:cut_after=2]]"))
    with pytest.raises(openai.APIConnectionError):
        async for _ in stream:
            pass
    refused = client.with_options(base_url="http://127.0.0.1:1/v1")
    with pytest.raises(openai.APIConnectionError):
        await refused.chat.completions.create(model="m", messages=_user("x"))


async def test_sequential_requests_reuse_one_connection(upstream: str, monkeypatch: pytest.MonkeyPatch) -> None:
    transport = FastTransport()
    connects = 0
    real = transport._connect

    async def counting(*args: object, **kwargs: object):
        nonlocal connects
        connects += 1
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transport, "_connect", counting)
    async with httpx2.AsyncClient(transport=transport) as http:
        for i in range(20):
            response = await http.post(f"{upstream}/chat/completions",
                                       json={"model": "m", "messages": _user(f"r{i}")})
            assert response.json()["choices"][0]["message"]["content"] == f"Fake reply to: r{i}"
    assert connects == 1
