"""Embeddings computed in process: hashed character trigrams (the `Embedder` port, no network).

A real but lexical embedder: it scores near-duplicates (case, punctuation, spacing, typos) close
and unrelated texts far, with no model behind it. It does not understand meaning, and a long
prompt that differs by one word ("not") stays very close, so it is not wired as a default for the
semantic response cache: that needs a configured `embeddings.provider`. Useful in tests and for
library users who only want near-duplicate matching at a strict threshold.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence


class HashingEmbedder:
    def __init__(self, dimensions: int = 256) -> None:
        self.dimensions = dimensions

    def vector(self, text: str) -> list[float]:
        vec = [0.0] * self.dimensions
        data = (" " + " ".join(text.lower().split()) + " ").encode()
        for i in range(len(data) - 2):
            h = zlib.crc32(data[i:i + 3])
            vec[h % self.dimensions] += 1.0 if (h >> 20) & 1 else -1.0
        norm = math.sqrt(sum(v * v for v in vec))
        return [v / norm for v in vec] if norm else [1.0, *([0.0] * (self.dimensions - 1))]

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]
