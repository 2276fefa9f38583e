"""A metered gateway under the BlackSheep TestClient: keys, usage and credits on a per-test SQLite
file, upstreams answered by httpx2.MockTransport. Import the `metered` fixture into a test module."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import orjson
import pytest
from blacksheep import Application
from blacksheep.contents import JSONContent
from blacksheep.testing import TestClient
from dependency_injector import providers
from sqlalchemy import select

from adapters.config import settings_from_dict
from adapters.sql.models import usage as usage_table
from container import Container, build_container
from entrypoints.http.app import create_app

ADMIN_TOKEN = "admin-secret-token"
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
PRICED = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "cache_read_per_mtok": 0.5}
OPENAI_OK = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m1",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500,
                       "prompt_tokens_details": {"cached_tokens": 400}}}
ANTHROPIC_OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_sequence": None,
                "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}}
GEMINI_OK = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
             "modelVersion": "gemini-x", "responseId": "r1"}


def chunk(**fields: Any) -> dict[str, Any]:
    return {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m1", **fields}


STREAM_CHUNKS = [
    chunk(choices=[{"index": 0, "delta": {"role": "assistant", "content": "he"}, "finish_reason": None}]),
    chunk(choices=[{"index": 0, "delta": {"content": "llo"}, "finish_reason": "stop"}]),
    chunk(choices=[], usage={"prompt_tokens": 2000, "completion_tokens": 1000, "total_tokens": 3000}),
]


def sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"


class Upstream:
    """Answers OpenAI (streamed or not), Anthropic and Gemini calls; `fail` makes every call a 500."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail = False

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        if self.fail:
            return httpx2.Response(500, json={"error": {"message": "upstream broke", "type": "server_error"}})
        host = request.url.host.split(".")[0]
        if host == "anth":
            return httpx2.Response(200, json=ANTHROPIC_OK)
        if host == "gem":
            return httpx2.Response(200, json=GEMINI_OK)
        if orjson.loads(request.content).get("stream"):
            return httpx2.Response(200, content=sse(STREAM_CHUNKS), headers={"content-type": "text/event-stream"})
        return httpx2.Response(200, json=OPENAI_OK)


def metered_config(tmp_path: Path, **sections: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "providers": {
            "up": {"kind": "openai", "base_url": "http://oai.test/v1", "api_key": "sk-up", "models": {"m1": PRICED}},
            "up_anthropic": {"kind": "anthropic", "base_url": "http://anth.test", "api_key": "sk-anth",
                             "models": {"claude-x": PRICED}},
            "up_gemini": {"kind": "gemini", "base_url": "http://gem.test", "api_key": "gem-key",
                          "models": {"gemini-x": PRICED}},
        },
        "database": {"url": f"sqlite:///{tmp_path / 'gateway.db'}"},
        "usage": {"flush_interval_ms": 5, "spill_path": str(tmp_path / "spill.jsonl")},
        "auth": {"api_keys": True, "admin_token": ADMIN_TOKEN},
    }
    for section, values in sections.items():
        if isinstance(values, dict) and isinstance(config.get(section), dict):
            config[section] = {**config[section], **values}
        else:
            config[section] = values
    return copy.deepcopy(config)


def chat(model: str = "up:m1", **extra: Any) -> JSONContent:
    return JSONContent({"model": model, "messages": [{"role": "user", "content": "hi"}], **extra})


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@dataclass
class Metered:
    client: TestClient
    container: Container
    app: Application
    upstream: Upstream

    async def new_key(self, **body: Any) -> dict[str, Any]:
        response = await self.client.post("/admin/api-keys", content=JSONContent({"name": "test", **body}),
                                          headers=ADMIN)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def flush(self) -> None:
        assert await self.container.metering.usage_writer().flush()

    async def usage(self) -> list[dict[str, Any]]:
        """Every stored usage row, oldest first (after writing what is queued)."""
        await self.flush()
        engine = self.container.metering.engine()
        async with engine.connect() as conn:
            rows = (await conn.execute(select(usage_table).order_by(usage_table.c.created_at))).all()
        return [dict(r._mapping) for r in rows]

    async def admin_get(self, path: str) -> Any:
        response = await self.client.get(path, headers=ADMIN)
        assert response.status == 200, await response.text()
        return await response.json()


@pytest.fixture
async def metered() -> AsyncIterator[Callable[..., Any]]:
    apps: list[Application] = []

    async def start(config: dict[str, Any], upstream: Upstream | None = None,
                    container: Container | None = None) -> Metered:
        upstream = upstream or Upstream()
        container = container or build_container(settings_from_dict(config))
        container.http_client.override(providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(upstream))))
        app = create_app(container)
        await app.start()
        apps.append(app)
        return Metered(TestClient(app), container, app, upstream)

    yield start
    for app in apps:
        await app.stop()
