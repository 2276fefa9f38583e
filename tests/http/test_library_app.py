"""Apps built with the library builder, driven through the BlackSheep TestClient: the builder's
methods change what the gateway does, not only what its settings say."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from blacksheep import Request, Response
from blacksheep.contents import JSONContent
from blacksheep.server.responses import text
from blacksheep.testing import TestClient
from dependency_injector import providers

from domain.errors import PermissionDenied
from entrypoints.library import Proxy, ProxyBuilder

ADMIN = {"authorization": "Bearer admin-token"}


def openai_reply(model: str, content: str) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}}


class Upstream:
    """OpenAI-shaped replies naming the host that answered; hosts in `failing` answer 500."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.calls: list[str] = []
        self.failing = failing

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        host = request.url.host
        self.calls.append(host)
        if host in self.failing:
            return httpx2.Response(500, json={"error": {"message": "down", "type": "server_error"}})
        model = orjson.loads(request.content)["model"]
        return httpx2.Response(200, json=openai_reply(model, f"hello from {host}"))


def base(tmp_path: Path, **provider: Any) -> ProxyBuilder:
    return (ProxyBuilder()
            .add_openai_compatible_provider("a", base_url="http://a.test/v1", api_key="k", models=["m"], **provider)
            .with_database(f"sqlite:///{tmp_path / 'gateway.db'}")
            .with_setting("usage", {"flush_interval_ms": 5, "spill_path": str(tmp_path / "spill.jsonl")}))


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Any]]:
    proxies: list[Proxy] = []

    async def start(builder: ProxyBuilder, upstream: Upstream | None = None) -> tuple[TestClient, Proxy]:
        proxy = builder.build()
        proxy.container.http_client.override(
            providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(upstream or Upstream()))))
        await proxy.start()
        proxies.append(proxy)
        return TestClient(proxy.asgi_app), proxy

    yield start
    for proxy in proxies:
        await proxy.stop()


def chat(model: str = "a:m", content: str = "hi") -> JSONContent:
    return JSONContent({"model": model, "messages": [{"role": "user", "content": content}]})


def anthropic_chat(model: str = "a:m") -> JSONContent:
    return JSONContent({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})


async def test_only_the_families_with_providers_are_served(serve: Any, tmp_path: Path) -> None:
    client, _ = await serve(base(tmp_path, endpoints=["chat_completions"]))
    assert (await client.post("/v1/chat/completions", content=chat())).status == 200
    messages = await client.post("/v1/messages", content=anthropic_chat())
    assert messages.status == 404
    assert (await messages.json())["error"]["type"] == "not_found_error"  # the Anthropic error shape
    gemini = await client.post("/v1beta/models/m:generateContent", content=JSONContent({"contents": []}))
    assert gemini.status == 404 and (await gemini.json())["error"]["status"] == "NOT_FOUND"
    assert (await client.get("/health")).status == 200


async def test_an_enabled_family_is_served_through_translation(serve: Any, tmp_path: Path) -> None:
    client, _ = await serve(base(tmp_path, endpoints=["chat_completions"]).enable_endpoint("messages", ["a"]))
    response = await client.post("/v1/messages", content=anthropic_chat())
    assert response.status == 200
    body = await response.json()
    assert body["type"] == "message" and body["content"][0]["text"] == "hello from a.test"


async def test_disable_endpoint_removes_its_routes(serve: Any, tmp_path: Path) -> None:
    client, _ = await serve(base(tmp_path).disable_endpoint("chat_completions"))
    assert (await client.post("/v1/chat/completions", content=chat())).status == 404
    assert (await client.get("/v1/models")).status == 404
    assert (await client.post("/v1/messages", content=anthropic_chat())).status == 200


async def test_middlewares_run_in_registration_order_and_may_short_circuit(serve: Any, tmp_path: Path) -> None:
    seen: list[str] = []

    def recorder(name: str, stop_on: str | None = None) -> Any:
        async def middleware(request: Request, next_handler: Any) -> Response:
            seen.append(f"{name}>")
            if stop_on and request.path == stop_on:
                return text(f"answered by {name}", status=299)
            response = await next_handler(request)
            seen.append(f"<{name}")
            response.add_header(b"x-trail", name.encode())
            return response
        return middleware

    upstream = Upstream()
    client, _ = await serve(base(tmp_path).with_middleware(recorder("first"))
                            .with_middleware(recorder("second", stop_on="/v1/chat/completions"))
                            .with_middleware(recorder("third")), upstream)
    response = await client.get("/v1/models")
    assert response.status == 200
    assert seen == ["first>", "second>", "third>", "<third", "<second", "<first"]
    assert [v.decode() for v in response.headers.get(b"x-trail")] == ["third", "second", "first"]
    assert response.headers.get_first(b"x-request-id")  # the gateway's own middleware ran around them

    seen.clear()
    short = await client.post("/v1/chat/completions", content=chat())
    assert short.status == 299 and await short.text() == "answered by second"
    assert seen == ["first>", "second>", "<first"]
    assert upstream.calls == []


async def test_a_middleware_error_comes_out_in_the_callers_shape(serve: Any, tmp_path: Path) -> None:
    async def refuse(request: Request, next_handler: Any) -> Response:
        if request.path.startswith("/v1/messages"):
            raise PermissionDenied("not for you")
        if request.path == "/v1/models":
            raise RuntimeError("a bug in the middleware")
        return await next_handler(request)

    client, _ = await serve(base(tmp_path).with_middleware(refuse))
    refused = await client.post("/v1/messages", content=anthropic_chat())
    assert refused.status == 403
    assert await refused.json() == {"type": "error", "error": {"type": "permission_error", "message": "not for you"}}
    broken = await client.get("/v1/models")
    assert broken.status == 500 and (await broken.json())["error"]["message"] == "internal error"
    assert broken.headers.get_first(b"x-request-id")


async def test_middlewares_see_only_requests_the_gateway_admitted(serve: Any, tmp_path: Path) -> None:
    seen: list[str] = []

    async def spy(request: Request, next_handler: Any) -> Response:
        seen.append(request.path)
        return await next_handler(request)

    client, _ = await serve(base(tmp_path).enable_api_key_auth().with_middleware(spy))
    assert (await client.post("/v1/chat/completions", content=chat())).status == 401
    assert seen == []


async def new_key(client: TestClient, **body: Any) -> str:
    response = await client.post("/admin/api-keys", content=JSONContent({"name": "t", **body}), headers=ADMIN)
    assert response.status == 201, await response.text()
    return str((await response.json())["key"])


async def test_api_keys_credits_and_rate_limits(serve: Any, tmp_path: Path) -> None:
    client, _ = await serve(base(tmp_path).enable_api_key_auth(admin_token="admin-token").enable_credits()
                            .with_rate_limit(1, "minute"))
    no_credits = await new_key(client, organization_id="org-empty")
    refused = await client.post("/v1/chat/completions", content=chat(),
                                headers={"authorization": f"Bearer {no_credits}"})
    assert refused.status == 402

    adjusted = await client.post("/admin/credits/adjust", headers=ADMIN, content=JSONContent(
        {"organization_id": "org-rich", "amount": "10", "type": "promotional"}))
    assert adjusted.status in (200, 201), await adjusted.text()
    key = {"authorization": f"Bearer {await new_key(client, organization_id='org-rich')}"}
    assert (await client.post("/v1/chat/completions", content=chat(), headers=key)).status == 200
    limited = await client.post("/v1/chat/completions", content=chat(), headers=key)
    assert limited.status == 429 and limited.headers.get_first(b"retry-after")


async def test_fallback_and_default_model(serve: Any, tmp_path: Path) -> None:
    def builder() -> ProxyBuilder:
        return (base(tmp_path).add_openai_compatible_provider("b", base_url="http://b.test/v1", api_key="k",
                                                              models=["m"])
                .default_model("a:m"))

    upstream = Upstream(failing=("a.test",))
    client, _ = await serve(builder().with_fallback(max_retries=0), upstream)
    served = await client.post("/v1/chat/completions", content=chat(model=""))
    assert served.status == 200
    assert served.headers.get_first(b"x-adaptive-provider") == b"b"
    assert upstream.calls == ["a.test", "b.test"]

    client, _ = await serve(builder().with_fallback(mode="off"), Upstream(failing=("a.test",)))
    assert (await client.post("/v1/chat/completions", content=chat(model=""))).status == 502


async def test_cors(serve: Any, tmp_path: Path) -> None:
    client, _ = await serve(base(tmp_path).with_cors(["https://app.example"]))
    preflight = await client.options("/v1/chat/completions", headers={
        "origin": "https://app.example", "access-control-request-method": "POST"})
    assert preflight.headers.get_first(b"access-control-allow-origin") == b"https://app.example"
    stranger = await client.options("/v1/chat/completions", headers={
        "origin": "https://evil.example", "access-control-request-method": "POST"})
    assert not stranger.headers.get_first(b"access-control-allow-origin")


async def test_storage_settings_show_in_health(serve: Any, tmp_path: Path) -> None:
    client, _ = await serve(base(tmp_path))
    report = await (await client.get("/health")).json()
    assert report["components"]["database"] == {"status": "up", "mode": "sqlite"}  # configured: probed
    assert (tmp_path / "gateway.db").exists()  # migrated at start

    client, _ = await serve(base(tmp_path).with_redis("redis://127.0.0.1:1/0"))
    down = await client.get("/health")
    assert down.status == 200  # every Redis store serves from local state: degraded, not unhealthy
    report = await down.json()
    assert report["status"] == "degraded" and report["components"]["redis"]["status"] == "degraded"
    assert report["components"]["redis"]["reason"] == "redis unreachable: ConnectionError"


async def test_proxy_chat_serves_python_callers_without_http(serve: Any, tmp_path: Path) -> None:
    from domain.chat import ChatRequest, Message, TextPart
    from entrypoints.library import ChatCall

    upstream = Upstream()
    _, proxy = await serve(base(tmp_path), upstream)
    service = proxy.chat
    request = ChatRequest(model="a:m", messages=[Message(role="user", content=[TextPart("hi")])])
    outcome = await service.complete(ChatCall(request, "chat_completions", service.resolve_config({})))
    assert outcome.response.text() == "hello from a.test"
    assert outcome.target.key == "a:m" and upstream.calls == ["a.test"]


async def test_prompt_cache_answers_a_repeat_without_the_upstream(serve: Any, tmp_path: Path) -> None:
    upstream = Upstream()
    client, _ = await serve(base(tmp_path).with_prompt_cache(ttl_s=60), upstream)
    body = {"model": "a:m", "temperature": 0, "messages": [{"role": "user", "content": "same question"}]}
    first = await client.post("/v1/chat/completions", content=JSONContent(body))
    second = await client.post("/v1/chat/completions", content=JSONContent(body))
    assert first.status == second.status == 200
    replies = [(await r.json())["choices"][0]["message"]["content"] for r in (first, second)]
    assert replies == ["hello from a.test"] * 2
    assert upstream.calls == ["a.test"]
