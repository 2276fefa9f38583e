"""The providers' shared HTTP client keeps no cookie and no auth state between callers (real server)."""

from __future__ import annotations

import asyncio

from adapters.providers.factory import shared_http_client
from adapters.providers.openai import OpenAIProvider
from domain.chat import ChatRequest, Message
from tests.adapters.raw_http import RawServer, Request, response

_REPLY = (b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
          b'"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],'
          b'"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}')


async def sets_a_session(request: Request, writer: asyncio.StreamWriter, index: int) -> bool:
    writer.write(response(body=_REPLY, headers={"Content-Type": "application/json",
                                                "Set-Cookie": "upstream_session=secret; Path=/"}))
    return True


async def test_set_cookie_from_one_request_never_reaches_another() -> None:
    http = shared_http_client()
    async with RawServer(sets_a_session) as server:
        for _ in range(3):
            await http.get(server.url("/v1/x"), headers={"Authorization": "Bearer caller-one"})
        await http.get(server.url("/v1/x"))
        assert len(http.cookies) == 0
    await http.aclose()
    assert [r.headers.get("cookie") for r in server.requests] == [None] * 4
    assert server.requests[-1].headers.get("authorization") is None


async def test_two_providers_on_the_shared_pool_do_not_share_cookies_or_keys() -> None:
    http = shared_http_client()
    request = ChatRequest(model="m", messages=[Message(role="user", content="hello")])
    async with RawServer(sets_a_session) as server:
        first = OpenAIProvider("a", base_url=server.url("/v1"), api_key="key-of-a", timeout_s=5, http_client=http)
        second = OpenAIProvider("b", base_url=server.url("/v1"), api_key="", timeout_s=5, http_client=http)
        await first.complete(request, "m")
        await second.complete(request, "m")
        await first.complete(request, "m")
    await http.aclose()
    seen = [(r.headers.get("authorization"), r.headers.get("cookie")) for r in server.requests]
    assert seen == [("Bearer key-of-a", None), (None, None), ("Bearer key-of-a", None)]
