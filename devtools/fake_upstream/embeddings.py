"""Deterministic OpenAI-style embeddings from hashed character trigrams."""

from __future__ import annotations

import base64
import math
import struct
import zlib
from typing import Any

import orjson

DEFAULT_DIMS = 64


def embed(text: str, dims: int = DEFAULT_DIMS) -> list[float]:
    """A unit vector: signed counts of crc32-hashed character trigrams.

    The text is lower-cased, whitespace-collapsed and padded with one space on
    each side.  Identical texts give identical vectors, texts sharing many
    trigrams give close vectors.  An empty text gives the first basis vector.
    """
    vec = [0.0] * dims
    padded = " " + " ".join(text.lower().split()) + " "
    data = padded.encode()
    for i in range(len(data) - 2):
        h = zlib.crc32(data[i : i + 3])
        vec[h % dims] += 1.0 if (h >> 20) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:
        vec[0] = 1.0
        return vec
    return [v / norm for v in vec]


def _inputs(raw: Any) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list):
        if raw and all(isinstance(x, int) for x in raw):
            return [" ".join(str(x) for x in raw)]
        return [x if isinstance(x, str) else " ".join(str(t) for t in x or ()) for x in raw]
    return [""]


def render(body: dict[str, Any]) -> bytes:
    """The ``POST /v1/embeddings`` reply; honours ``dimensions`` and ``encoding_format``."""
    texts = _inputs(body.get("input"))
    dims = body.get("dimensions")
    dims = dims if isinstance(dims, int) and 0 < dims <= 8192 else DEFAULT_DIMS
    as_base64 = body.get("encoding_format") == "base64"
    data = []
    tokens = 0
    for index, text in enumerate(texts):
        vec = embed(text, dims)
        tokens += len(text.split())
        value: Any = base64.b64encode(struct.pack(f"<{dims}f", *vec)).decode() if as_base64 else vec
        data.append({"object": "embedding", "index": index, "embedding": value})
    tokens = max(1, tokens)
    return orjson.dumps(
        {
            "object": "list",
            "data": data,
            "model": str(body.get("model") or "fake-embedding"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


def _gemini_text(content: Any) -> str:
    parts = content.get("parts") if isinstance(content, dict) else None
    return " ".join(str(p.get("text", "")) for p in parts or () if isinstance(p, dict))


def _gemini_dims(request: dict[str, Any]) -> int:
    dims = request.get("outputDimensionality", request.get("output_dimensionality"))
    return dims if isinstance(dims, int) and 0 < dims <= 8192 else DEFAULT_DIMS


def render_gemini(body: dict[str, Any]) -> bytes:
    """``:embedContent`` -> ``{"embedding": {"values"}}``; ``:batchEmbedContents`` (``requests``)
    -> ``{"embeddings": [...]}``.  Same vectors as the OpenAI endpoint for the same text."""
    if isinstance(body.get("requests"), list):
        requests = [r for r in body["requests"] if isinstance(r, dict)]
        return orjson.dumps({"embeddings": [{"values": embed(_gemini_text(r.get("content")), _gemini_dims(r))}
                                            for r in requests]})
    return orjson.dumps({"embedding": {"values": embed(_gemini_text(body.get("content")), _gemini_dims(body))}})
