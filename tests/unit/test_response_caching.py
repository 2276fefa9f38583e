"""The chat use case with the response cache: scripted provider, in-memory store, fake embedder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

import application.response_cache as response_cache_module
from adapters.memory.breaker_store import InMemoryBreakerStore
from adapters.memory.keyed_cache import InMemoryResponseCache
from adapters.system_clock import SystemClock
from application.chat import ChatCall, ChatService
from application.execution import Executor
from application.providers import ProviderRegistry
from application.response_cache import ResponseCaching
from application.selection import Selector
from application.settings import ProviderSettings, Settings
from domain.breaker import BreakerPolicy
from domain.chat import (
    ChatRequest,
    ChatResponse,
    Message,
    StreamEnd,
    StreamEvent,
    StreamStart,
    TextDelta,
    TextPart,
    ToolCall,
    Usage,
)
from domain.errors import UpstreamError
from domain.keys import ApiKey, Principal
from entrypoints.fake_upstream.embeddings import embed

MODEL = "up:m1"


class Scripted:
    """Answers "answer <n>" (n counts calls); can cut a stream or answer with a tool call."""

    kind = "openai"

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.cut = False
        self.tool_call = False

    async def complete(self, request: ChatRequest, model: str) -> ChatResponse:
        self.calls += 1
        if self.tool_call:
            return ChatResponse(id=f"r{self.calls}", model=model, finish_reason="tool_calls",
                                tool_calls=[ToolCall("call_1", "weather", "{}")], usage=Usage(10, 5))
        return ChatResponse(id=f"r{self.calls}", model=model, content=[TextPart(f"answer {self.calls}")],
                            usage=Usage(10, 5))

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[StreamEvent]:
        self.calls += 1
        yield StreamStart(id=f"s{self.calls}", model=model)
        yield TextDelta("answer ")
        if self.cut:
            raise UpstreamError("connection closed mid-stream", provider=self.name)
        yield TextDelta(str(self.calls))
        yield StreamEnd("stop", Usage(10, 5))

    async def count_tokens(self, request: ChatRequest, model: str) -> int:
        return 1

    async def aclose(self) -> None:
        return None


class Factory:
    def __init__(self) -> None:
        self.provider: Scripted | None = None

    def create(self, name: str, settings: ProviderSettings) -> Scripted:
        self.provider = Scripted(name)
        return self.provider


class FakeEmbedder:
    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def embed(self, texts: Any) -> list[list[float]]:
        self.calls += 1
        if self.fail:
            raise UpstreamError("embeddings down", provider="emb")
        return [embed(t) for t in texts]


def service(embedder: FakeEmbedder | None = None, **cache: Any) -> tuple[ChatService, Scripted]:
    settings = Settings.model_validate({
        "providers": {"up": {"kind": "openai", "api_key": "k", "models": {"m1": {}}}},
        "prompt_cache": {"enabled": True, **cache},
        "fallback": {"mode": "off", "max_retries": 0},
    })
    factory = Factory()
    registry = ProviderRegistry(factory, settings.providers)
    executor = Executor(InMemoryBreakerStore(), BreakerPolicy(failure_threshold=100), SystemClock())
    caching = ResponseCaching(settings, InMemoryResponseCache(), embedder)
    chat = ChatService(settings, registry, executor, Selector(settings), cache=caching)
    assert factory.provider is not None
    return chat, factory.provider


def call(chat: ChatService, text: str = "What is the capital of France?", body: dict[str, Any] | None = None,
         **fields: Any) -> ChatCall:
    params = {"temperature": 0.0, **{k: v for k, v in fields.items() if k in ("max_tokens", "temperature", "stream")}}
    request = ChatRequest(model=MODEL, messages=[Message(role="user", content=[TextPart(text)])], **params)
    extra = {k: v for k, v in fields.items() if k in ("cache_control", "principal")}
    return ChatCall(request, "chat_completions", chat.resolve_config(body or {}), **extra)


async def drain(events: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [e async for e in events]


async def test_a_repeated_request_is_answered_from_the_cache_without_the_upstream() -> None:
    chat, upstream = service()
    first = await chat.complete(call(chat))
    second = await chat.complete(call(chat))
    assert upstream.calls == 1
    assert (first.cache_tier, first.response.usage.cache_tier) == ("miss", "miss")
    assert first.response.usage.input_tokens == 10
    assert second.cache_tier == "exact" and second.selection.source == "cache_exact"
    assert second.response.text() == "answer 1" and (second.target.provider, second.target.model) == ("up", "m1")
    assert (second.response.usage.input_tokens, second.response.usage.output_tokens) == (0, 0)
    assert second.response.usage.cache_tier == "exact"


async def test_a_changed_parameter_misses() -> None:
    chat, upstream = service()
    await chat.complete(call(chat))
    await chat.complete(call(chat, max_tokens=20))
    await chat.complete(call(chat, text="What is the capital of Spain?"))
    assert upstream.calls == 3


async def test_with_the_cache_off_nothing_is_hashed_and_no_tier_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: Any) -> str:
        raise AssertionError("hashed while the cache is off")

    monkeypatch.setattr(response_cache_module, "exact_key", boom)
    chat, upstream = service(enabled=False)
    outcome = await chat.complete(call(chat))
    assert outcome.cache_tier is None and outcome.response.usage.cache_tier is None
    await chat.complete(call(chat))
    assert upstream.calls == 2


async def test_a_request_may_turn_the_cache_on_but_not_lengthen_the_ttl() -> None:
    chat, upstream = service(enabled=False, ttl_s=60)
    body = {"prompt_cache": {"enabled": True, "ttl_s": 999_999}}
    caching = chat._cache
    assert caching is not None
    plan = caching.plan(call(chat, body=body).request, "chat_completions", chat.resolve_config(body))
    assert plan is not None and plan.ttl_s == 60
    await chat.complete(call(chat, body=body))
    assert (await chat.complete(call(chat, body=body))).cache_tier == "exact"
    assert upstream.calls == 1


async def test_no_cache_refreshes_the_entry_and_no_store_leaves_it_alone() -> None:
    chat, upstream = service()
    await chat.complete(call(chat, cache_control="no-store"))
    assert (await chat.complete(call(chat, cache_control="no-cache"))).cache_tier == "miss"
    assert upstream.calls == 2
    fresh = await chat.complete(call(chat))  # no-cache stored its fresh answer
    assert fresh.cache_tier == "exact" and fresh.response.text() == "answer 2"


async def test_warm_temperatures_are_cached_only_when_allowed() -> None:
    chat, upstream = service()
    await chat.complete(call(chat, temperature=0.7))
    await chat.complete(call(chat, temperature=0.7))
    assert upstream.calls == 2
    chat, upstream = service(cache_nonzero_temperature=True)
    await chat.complete(call(chat, temperature=0.7))
    assert (await chat.complete(call(chat, temperature=0.7))).cache_tier == "exact"


async def test_answers_that_call_tools_are_not_stored() -> None:
    chat, upstream = service()
    upstream.tool_call = True
    await chat.complete(call(chat))
    await chat.complete(call(chat))
    assert upstream.calls == 2


async def test_a_stream_is_stored_when_it_ends_and_replayed_to_streams_and_plain_calls() -> None:
    chat, upstream = service()
    live = await chat.stream(call(chat, stream=True))
    events = await drain(live.events)
    assert live.cache_tier == "miss" and isinstance(events[-1], StreamEnd) and events[-1].usage.cache_tier == "miss"
    replay = await chat.stream(call(chat, stream=True))
    assert replay.cache_tier == "exact" and replay.selection.source == "cache_exact"
    replayed = await drain(replay.events)
    assert "".join(e.text for e in replayed if isinstance(e, TextDelta)) == "answer 1"
    plain = await chat.complete(call(chat))
    assert plain.cache_tier == "exact" and plain.response.text() == "answer 1"
    assert upstream.calls == 1


async def test_a_stream_cut_short_or_abandoned_is_not_stored() -> None:
    chat, upstream = service()
    upstream.cut = True
    cut = await chat.stream(call(chat, stream=True))
    with pytest.raises(UpstreamError):
        await drain(cut.events)
    upstream.cut = False
    abandoned = await chat.stream(call(chat, stream=True))
    await anext(aiter(abandoned.events))
    await abandoned.events.aclose()  # type: ignore[attr-defined]
    assert (await chat.complete(call(chat))).cache_tier == "miss"
    assert upstream.calls == 3


async def test_entries_are_not_shared_across_organizations() -> None:
    chat, upstream = service()

    def principal(key_id: int, org: str) -> Principal:
        return Principal(ApiKey(id=key_id, name="n", key_hash="h", key_prefix="p", organization_id=org))

    await chat.complete(call(chat, principal=principal(1, "acme")))
    assert (await chat.complete(call(chat, principal=principal(2, "acme")))).cache_tier == "exact"
    assert (await chat.complete(call(chat, principal=principal(3, "globex")))).cache_tier == "miss"
    assert (await chat.complete(call(chat))).cache_tier == "miss"  # anonymous callers share among themselves
    assert upstream.calls == 3


async def test_semantic_mode_answers_a_near_identical_prompt_within_one_bucket() -> None:
    embedder = FakeEmbedder()
    chat, upstream = service(embedder, semantic=True, semantic_threshold=0.9)
    await chat.complete(call(chat, text="What is the capital city of France?"))
    near = await chat.complete(call(chat, text="what is the capital city of france"))
    assert near.cache_tier == "semantic" and near.selection.source == "cache_semantic"
    assert near.response.text() == "answer 1" and near.response.usage.output_tokens == 0
    other_params = await chat.complete(call(chat, text="what is the capital city of france", max_tokens=5))
    unrelated = await chat.complete(call(chat, text="Write a haiku about autumn leaves"))
    assert (other_params.cache_tier, unrelated.cache_tier) == ("miss", "miss")
    assert upstream.calls == 3


async def test_an_embedder_failure_falls_back_to_exact_matching() -> None:
    chat, upstream = service(FakeEmbedder(fail=True), semantic=True)
    await chat.complete(call(chat))
    assert (await chat.complete(call(chat))).cache_tier == "exact"
    assert (await chat.complete(call(chat, text="what is the capital of france"))).cache_tier == "miss"
    assert upstream.calls == 2
