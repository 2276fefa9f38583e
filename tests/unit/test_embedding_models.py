"""`models.<m>.kind: embedding`: such models are never chat targets, chat models never embed."""

from __future__ import annotations

import pytest

from application.embeddings import EmbeddingService
from application.request_config import base_config
from application.selection import Selector, Target, catalog_for
from application.settings import Settings
from domain.chat import ChatRequest, Message, TextPart
from domain.errors import InvalidRequest

SETTINGS = Settings.model_validate({"model_router": {"enabled": False}, "providers": {
    "o": {"kind": "openai", "api_key": "k", "models": {"text-embedding-3-small": {"kind": "embedding"},
                                                        "gpt-4o-mini": {}}},
    "g": {"kind": "gemini", "api_key": "k", "models": {"gemini-embedding-001": {"kind": "embedding"}}},
    "a": {"kind": "anthropic", "api_key": "k", "models": {"claude-embed": {"kind": "embedding"}}},
}})
CONFIG = base_config(SETTINGS)


def chat(model: str) -> ChatRequest:
    return ChatRequest(model=model, messages=[Message(role="user", content=[TextPart("hi")])])


async def test_chat_never_selects_an_embedding_model() -> None:
    assert [m.key for m in catalog_for(CONFIG, ["o", "g", "a"]).models()] == ["o:gpt-4o-mini"]
    assert len(catalog_for(CONFIG, ["o", "g", "a"], kinds=("chat", "embedding")).models()) == 4  # pricing
    selection = await Selector(SETTINGS).select(chat(""), "chat_completions", CONFIG)
    assert selection.targets == [Target("o", "gpt-4o-mini")]  # the default skips the embedding model
    with pytest.raises(InvalidRequest, match="embedding model"):
        await Selector(SETTINGS).select(chat("o:text-embedding-3-small"), "chat_completions", CONFIG)


@pytest.mark.parametrize("model,target", [
    ("o:text-embedding-3-small", Target("o", "text-embedding-3-small")),
    ("gemini-embedding-001", Target("g", "gemini-embedding-001")),
    ("", Target("o", "text-embedding-3-small")),
    ("auto", Target("o", "text-embedding-3-small")),
])
def test_embedding_targets(model: str, target: Target) -> None:
    service = EmbeddingService(SETTINGS, registry=None, executor=None)  # type: ignore[arg-type]
    assert service.target(model, CONFIG) == target


@pytest.mark.parametrize("model,message", [("a:claude-embed", "no embeddings API"), ("o:gpt-4o-mini", "chat model"),
                                           ("claude-embed", "no embedding model"), ("x:y", "unknown")])
def test_embedding_refusals(model: str, message: str) -> None:
    service = EmbeddingService(SETTINGS, registry=None, executor=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match=message) as err:
        service.target(model, CONFIG)
    assert err.value.param == "model"
