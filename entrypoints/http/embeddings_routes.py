"""`POST /v1/embeddings` in OpenAI's shape, served by OpenAI-kind and Gemini providers."""

from __future__ import annotations

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from adapters.wire.embeddings import encode_response, parse_request
from application.embeddings import EmbeddingService
from domain.chat import Usage
from entrypoints.http.io import json_response, read_json


def register(router: Router) -> None:
    router.add_post("/v1/embeddings", create_embeddings)


async def create_embeddings(request: Request, embeddings: EmbeddingService) -> Response:
    body = await read_json(request, embeddings.max_body_bytes)
    parsed, as_base64 = parse_request(body)
    target, result = await embeddings.embed(parsed, embeddings.resolve_config(body))
    source = "manual_override" if ":" in parsed.model else "default"
    meter = getattr(request, "meter", None)  # the request's usage ledger (entrypoints/http/access.py)
    if meter is not None:
        meter.served(target.provider, target.model, source, Usage(input_tokens=result.input_tokens))
    headers = [(b"x-adaptive-provider", target.provider.encode()), (b"x-adaptive-model", target.model.encode()),
               (b"x-adaptive-selection", source.encode())]
    return json_response(encode_response(result, target.model, as_base64), headers=headers)
