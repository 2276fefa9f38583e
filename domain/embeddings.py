"""Text embeddings: what a client asks for and what a provider gives back (`POST /v1/embeddings`)."""

from __future__ import annotations

from dataclasses import dataclass

# Strings, or (OpenAI only) pre-tokenised inputs: one list of token ids per input.
EmbeddingInput = list[str] | list[list[int]]


@dataclass(slots=True)
class EmbeddingRequest:
    model: str
    inputs: EmbeddingInput
    dimensions: int | None = None

    @property
    def tokenised(self) -> bool:
        return bool(self.inputs) and not isinstance(self.inputs[0], str)


@dataclass(slots=True)
class Embeddings:
    """One vector per input, in input order, and the input tokens the provider counted."""

    vectors: list[list[float]]
    input_tokens: int = 0
