"""Embeddings on the wire: OpenAI's `/embeddings` and Gemini's `batchEmbedContents`, both ways."""

from __future__ import annotations

import base64
import struct
from typing import Any

from domain.embeddings import EmbeddingInput, EmbeddingRequest, Embeddings
from domain.errors import InvalidRequest, UpstreamError

MAX_INPUTS = 2048


def invalid(message: str, param: str) -> InvalidRequest:
    return InvalidRequest(message, param=param, code="invalid_value")


def parse_request(body: dict[str, Any]) -> tuple[EmbeddingRequest, bool]:
    """An OpenAI embeddings body → the request, and whether the client wants base64 vectors."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("model must be a string", "model")
    dimensions = body.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise invalid("dimensions must be a positive integer", "dimensions")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64", None):
        raise invalid("encoding_format must be float or base64", "encoding_format")
    return EmbeddingRequest(model=model or "", inputs=_inputs(body.get("input")), dimensions=dimensions), \
        encoding == "base64"


def _inputs(raw: Any) -> EmbeddingInput:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and len(raw) <= MAX_INPUTS:
        if all(isinstance(x, str) for x in raw):
            return list(raw)
        if all(_token_id(x) for x in raw):
            return [list(raw)]  # one input, pre-tokenised
        if all(isinstance(x, list) and x and all(_token_id(t) for t in x) for x in raw):
            return [list(x) for x in raw]
    raise invalid(f"input must be a string, a non-empty array of at most {MAX_INPUTS} strings, "
                  "or token arrays", "input")


def _token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def encode_response(result: Embeddings, model: str, as_base64: bool) -> dict[str, Any]:
    data = [{"object": "embedding", "index": i,
             "embedding": _base64(vector) if as_base64 else vector} for i, vector in enumerate(result.vectors)]
    return {"object": "list", "data": data, "model": model,
            "usage": {"prompt_tokens": result.input_tokens, "total_tokens": result.input_tokens}}


def _base64(vector: list[float]) -> str:
    """Little-endian float32, as OpenAI sends it (the SDKs decode it with numpy / struct)."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()


# --- upstream: OpenAI-kind ----------------------------------------------------------------------


def openai_body(request: EmbeddingRequest, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "input": request.inputs, "encoding_format": "float"}
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    return body


def parse_openai(payload: dict[str, Any], count: int, provider: str) -> Embeddings:
    try:
        data = sorted(payload["data"], key=lambda d: d["index"])
        vectors = [[float(x) for x in item["embedding"]] for item in data]
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamError("embeddings endpoint returned an unexpected body", provider=provider) from exc
    if len(vectors) != count:
        raise UpstreamError("embeddings endpoint returned a wrong number of vectors", provider=provider)
    usage = payload.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    return Embeddings(vectors=vectors, input_tokens=int(usage.get("prompt_tokens") or 0))


# --- upstream: Gemini -----------------------------------------------------------------------------


def gemini_body(request: EmbeddingRequest, model_path: str, provider: str) -> dict[str, Any]:
    if request.tokenised:
        raise invalid(f"provider {provider!r} (Gemini) takes text input only, not token arrays", "input")
    requests = []
    for text in request.inputs:
        one: dict[str, Any] = {"model": model_path, "content": {"parts": [{"text": text}]}}
        if request.dimensions is not None:
            one["outputDimensionality"] = request.dimensions
        requests.append(one)
    return {"requests": requests}


def parse_gemini(payload: dict[str, Any], request: EmbeddingRequest, provider: str) -> Embeddings:
    try:
        vectors = [[float(x) for x in item["values"]] for item in payload["embeddings"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise UpstreamError("batchEmbedContents returned an unexpected body", provider=provider) from exc
    if len(vectors) != len(request.inputs):
        raise UpstreamError("batchEmbedContents returned a wrong number of vectors", provider=provider)
    # Gemini reports no token count for embeddings: estimated as one token per 4 characters.
    tokens = sum(max(1, len(str(text)) // 4) for text in request.inputs)
    return Embeddings(vectors=vectors, input_tokens=tokens)
