"""Text embeddings from an OpenAI-compatible `/embeddings` endpoint (the `Embedder` port).

Configured like OpenAIProvider: the official SDK computes the URL and headers once, requests go
out through the shared pooled `httpx2` client as plain JSON. Used by the semantic response cache.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx2
import openai
import orjson

from adapters.providers.errors import from_status, retry_after_seconds, translate_openai_error
from adapters.providers.openai import error_message, sdk_headers
from domain.errors import UpstreamError


class OpenAIEmbedder:
    def __init__(self, name: str, *, base_url: str, api_key: str, model: str, timeout_s: float = 10.0,
                 headers: dict[str, str] | None = None, http_client: httpx2.AsyncClient | None = None) -> None:
        self.name = name
        self.model = model
        self._http = http_client or httpx2.AsyncClient()
        sdk = openai.AsyncOpenAI(api_key=api_key or "not-needed", base_url=base_url, max_retries=0,
                                 default_headers=headers or None, http_client=self._http)
        self._url = str(sdk.base_url).rstrip("/") + "/embeddings"
        self._headers = sdk_headers(sdk)
        if not api_key:
            self._headers.pop("Authorization", None)
        self._timeout = httpx2.Timeout(timeout_s, connect=min(timeout_s, 5.0))

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        body = {"model": self.model, "input": list(texts), "encoding_format": "float"}
        request = self._http.build_request("POST", self._url, content=orjson.dumps(body), headers=self._headers,
                                           timeout=self._timeout)
        try:
            response = await self._http.send(request)
        except httpx2.HTTPError as exc:
            raise translate_openai_error(exc, self.name) from exc
        if response.status_code >= 400:
            raise from_status(response.status_code, error_message(response), self.name,
                              retry_after_seconds(response.headers))
        try:
            data = orjson.loads(response.content)["data"]
            vectors = [[float(x) for x in item["embedding"]] for item in sorted(data, key=lambda d: d["index"])]
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise UpstreamError("embeddings endpoint returned an unexpected body", provider=self.name) from exc
        if len(vectors) != len(texts):
            raise UpstreamError("embeddings endpoint returned a wrong number of vectors", provider=self.name)
        return vectors
