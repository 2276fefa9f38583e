"""Text embeddings from an OpenAI-compatible `/embeddings` endpoint (the `Embedder` port).

Configured like OpenAIProvider: the official SDK computes the URL and headers once, requests go
out through the shared pooled `httpx2` client as plain JSON. Used by the semantic response cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx2

from adapters.providers.direct import DirectSender, sdk_headers
from domain.errors import UpstreamError


class OpenAIEmbedder:
    def __init__(self, name: str, *, base_url: str, api_key: str, model: str, timeout_s: float = 10.0,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self.model = model
        self._http = http_client or httpx2.AsyncClient()
        import openai  # imported when an embedder is built: start-up does not pay for the SDK

        sdk = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0,
                                 default_headers=headers or None, http_client=self._http)
        self._send = DirectSender(self._http, str(sdk.base_url), sdk_headers(sdk, keyless=not api_key),
                                  timeout_s, name)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        body = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        payload = await self._send.post_json("/embeddings", body)
        try:
            data = payload["data"]
            vectors = [[float(x) for x in item["embedding"]] for item in sorted(data, key=lambda d: d["index"])]
        except (KeyError, TypeError, ValueError) as exc:
            raise UpstreamError("embeddings endpoint returned an unexpected body", provider=self.name) from exc
        if len(vectors) != len(texts):
            raise UpstreamError("embeddings endpoint returned a wrong number of vectors", provider=self.name)
        return vectors
