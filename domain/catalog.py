"""Models, prices and capabilities: what the router chooses from and what cost arithmetic reads."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# Quality priors (0..1, higher is better) for well-known models, used when the config gives none.
# Rough public-leaderboard order; only the order and the spacing matter to the router.
DEFAULT_QUALITY: dict[str, float] = {
    "gpt-4o": 0.86,
    "gpt-4o-mini": 0.72,
    "gpt-4.1": 0.88,
    "gpt-4.1-mini": 0.8,
    "gpt-4.1-nano": 0.66,
    "gpt-5": 0.95,
    "gpt-5-mini": 0.86,
    "gpt-5-nano": 0.74,
    "o3": 0.94,
    "o4-mini": 0.88,
    "gpt-3.5-turbo": 0.55,
    "claude-opus-4-1": 0.95,
    "claude-opus-4": 0.94,
    "claude-sonnet-4-5": 0.94,
    "claude-sonnet-4": 0.91,
    "claude-3-7-sonnet": 0.88,
    "claude-3-5-sonnet": 0.86,
    "claude-haiku-4-5": 0.84,
    "claude-3-5-haiku": 0.74,
    "claude-3-haiku": 0.6,
    "gemini-2.5-pro": 0.94,
    "gemini-2.5-flash": 0.86,
    "gemini-2.5-flash-lite": 0.74,
    "gemini-2.0-flash": 0.78,
    "gemini-2.0-flash-lite": 0.7,
    "deepseek-chat": 0.85,
    "deepseek-reasoner": 0.9,
    "grok-4": 0.93,
    "grok-3": 0.87,
    "grok-3-mini": 0.78,
    "llama-3.3-70b-versatile": 0.76,
    "llama-3.1-8b-instant": 0.55,
    "openai/gpt-oss-120b": 0.84,
    "openai/gpt-oss-20b": 0.74,
}

_DATE_SUFFIX = re.compile(r"(-\d{4}-\d{2}-\d{2}|-\d{8}|-\d{4}|@\d{8}|-latest|-preview-\d{2}-\d{2})$")


def base_model_name(model: str) -> str:
    """`gpt-4o-2024-08-06` -> `gpt-4o`, `claude-3-5-sonnet-20241022` -> `claude-3-5-sonnet`."""
    return _DATE_SUFFIX.sub("", model)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    provider: str
    model: str
    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    cache_read_per_mtok: float | None = None  # defaults to the input price
    cache_write_per_mtok: float | None = None  # defaults to the input price
    context_window: int = 128_000
    supports_tools: bool = True
    supports_vision: bool = False
    quality: float | None = None
    max_output_tokens: int | None = None  # None: not declared (no limit checked)

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"

    @property
    def blended_price(self) -> float:
        """One number to order models by price: a typical 3:1 input:output mix."""
        return (3 * self.input_per_mtok + self.output_per_mtok) / 4

    def quality_prior(self) -> float | None:
        if self.quality is not None:
            return self.quality
        return DEFAULT_QUALITY.get(self.model) or DEFAULT_QUALITY.get(base_model_name(self.model))


class Catalog:
    """Every configured model, looked up by provider and model name (dated ids resolve)."""

    def __init__(self, models: Iterable[ModelInfo]) -> None:
        self._by_key: dict[tuple[str, str], ModelInfo] = {}
        for info in models:
            self._by_key[(info.provider, info.model)] = info

    def __iter__(self) -> Iterator[ModelInfo]:
        return iter(self._by_key.values())

    def __len__(self) -> int:
        return len(self._by_key)

    def models(self) -> list[ModelInfo]:
        return list(self._by_key.values())

    def for_provider(self, provider: str) -> list[ModelInfo]:
        return [m for m in self._by_key.values() if m.provider == provider]

    def get(self, provider: str, model: str) -> ModelInfo | None:
        info = self._by_key.get((provider, model))
        if info is None:
            info = self._by_key.get((provider, base_model_name(model)))
        return info
