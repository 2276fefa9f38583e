"""Builds provider clients by wire protocol (`kind`), all sharing one pooled HTTP client."""

from __future__ import annotations

import httpx2

from adapters.providers.openai import OpenAIProvider
from application.settings import ProviderSettings
from domain.ports import ChatProvider


def shared_http_client(max_connections: int = 1000) -> httpx2.AsyncClient:
    """One connection pool for every provider (timeouts are set per request by each SDK)."""
    return httpx2.AsyncClient(
        limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=200,
                             keepalive_expiry=30.0),
        timeout=httpx2.Timeout(60.0, connect=10.0),
        follow_redirects=False,
    )


class SdkProviderFactory:
    def __init__(self, http_client: httpx2.AsyncClient) -> None:
        self._http = http_client

    def create(self, name: str, settings: ProviderSettings) -> ChatProvider:
        if settings.kind == "openai":
            return OpenAIProvider(name, base_url=settings.base_url or "https://api.openai.com/v1",
                                  api_key=settings.api_key, timeout_s=settings.timeout_s,
                                  headers=settings.headers, http_client=self._http)
        raise NotImplementedError(f"provider kind {settings.kind!r} is not supported yet")
