"""Builds provider clients by wire protocol (`kind`), all sharing one pooled HTTP client."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http.cookiejar import CookieJar, CookiePolicy
from typing import Any

import httpx2

from adapters.providers.transport import FastTransport
from application.settings import ProviderSettings
from domain.ports import ChatProvider


class _NoCookies(CookiePolicy):
    """Accepts no cookie and sends none: the pool is shared by every caller, so an upstream's
    `Set-Cookie` (a session, a load-balancer pin) must not follow one caller's request into
    another's."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: object, request: object) -> bool:
        return False

    def return_ok(self, cookie: object, request: object) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: object) -> bool:
        return False

    def path_return_ok(self, path: str, request: object) -> bool:
        return False


class SharedClient(httpx2.AsyncClient):
    """The shared pool's client. `send_prepared` sends a request whose URL and headers the caller
    prepared once (adapters/providers/direct.py) straight to the transport, without httpx2's
    per-request pipeline: no URL and header merge, no header re-normalisation, no auth, redirect or
    cookie handling (the pool follows no redirects and keeps no cookies anyway). The request hooks
    still run (the trace context's `traceparent`)."""

    def __init__(self, transport: httpx2.AsyncBaseTransport, **kwargs: Any) -> None:
        super().__init__(transport=transport, **kwargs)
        self._pool_transport = transport

    async def send_prepared(self, request: httpx2.Request, *, stream: bool) -> httpx2.Response:
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")  # as httpx2's send
        for hook in self.event_hooks["request"]:
            await hook(request)
        response = await self._pool_transport.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response


def shared_http_client(max_connections_per_host: int = 512,
                       outgoing_headers: Callable[[Any], None] | None = None,
                       transport: httpx2.AsyncBaseTransport | None = None) -> SharedClient:
    """One connection pool for every provider (timeouts are set per request by each SDK), with no
    cookie jar. `outgoing_headers(headers)` may add headers to every upstream request (the trace
    context's `traceparent` when traces are on).

    The lean keep-alive transport replaces httpcore2: see adapters/providers/transport.py.
    `transport` replaces it (tests: a mocked network behind the real client).
    """
    hooks: dict[str, list[Callable[[httpx2.Request], Awaitable[None]]]] = {}
    if outgoing_headers is not None:
        add = outgoing_headers

        async def on_request(request: httpx2.Request) -> None:
            add(request.headers)

        hooks["request"] = [on_request]
    return SharedClient(
        transport or FastTransport(max_connections_per_host=max_connections_per_host),
        timeout=httpx2.Timeout(60.0, connect=10.0),
        follow_redirects=False,
        cookies=CookieJar(policy=_NoCookies()),
        event_hooks=hooks,
    )


class SdkProviderFactory:
    def __init__(self, http_client: httpx2.AsyncClient) -> None:
        self._http = http_client

    def create(self, name: str, settings: ProviderSettings) -> ChatProvider:
        # Each SDK is imported when a provider of its kind is first built: a configuration that
        # uses one kind does not pay the others' import time at start-up (~1-2 s each).
        if settings.kind == "openai":
            from adapters.providers.openai import OpenAIProvider

            return OpenAIProvider(name, base_url=settings.base_url or "https://api.openai.com/v1",
                                  api_key=settings.api_key, timeout_s=settings.timeout_s,
                                  headers=settings.auth_headers(), http_client=self._http,
                                  responses_api=settings.has_responses_api)
        if settings.kind == "anthropic":
            from adapters.providers.anthropic import AnthropicProvider

            return AnthropicProvider(name, base_url=settings.base_url or "https://api.anthropic.com",
                                     api_key=settings.api_key, timeout_s=settings.timeout_s,
                                     headers=settings.auth_headers(), http_client=self._http)
        if settings.kind == "gemini":
            from adapters.providers.gemini import GeminiProvider

            return GeminiProvider(name, base_url=settings.base_url, api_key=settings.api_key,
                                  timeout_s=settings.timeout_s, headers=settings.auth_headers(), http_client=self._http)
        raise NotImplementedError(f"provider kind {settings.kind!r} is not supported yet")
