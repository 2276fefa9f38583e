"""`GET /openapi.json`: an OpenAPI 3 document of every route this app serves.

BlackSheep's generator (`blacksheep.server.openapi.v3`) lists the registered routes and their
path parameters. Our handlers read raw bodies (to answer bad input in each API family's error
shape), so the typed bodies are attached here from the pydantic models in
`entrypoints/http/schemas/`; the Gemini catch-all route is spelled out as its three methods.
The document is built once, on its first request, from the routes actually registered.
"""

from __future__ import annotations

import re
from typing import Any

from blacksheep import Application, Content, Response
from blacksheep.server.openapi.common import DefaultSerializer
from blacksheep.server.openapi.v3 import OpenAPIHandler
from blacksheep.server.routing import Router
from openapidocs.v3 import (
    Info,
    MediaType,
    OpenAPI,
    Operation,
    Parameter,
    ParameterLocation,
    PathItem,
    RequestBody,
    Schema,
    ValueType,
)
from openapidocs.v3 import Response as ResponseDoc
from pydantic import BaseModel

from entrypoints.http.schemas import admin as admin_schemas
from entrypoints.http.schemas.select_model import SelectModelRequest, SelectModelResponse

PATH = "/openapi.json"
GEMINI_METHODS = ("generateContent", "streamGenerateContent", "countTokens")
# (method, path) -> (request body model or None, success status, response body model or None)
TYPED: dict[tuple[str, str], tuple[type[BaseModel] | None, str, type[BaseModel] | None]] = {
    ("post", "/v1/select-model"): (SelectModelRequest, "200", SelectModelResponse),
    ("post", "/admin/api-keys"): (admin_schemas.CreateKeyRequest, "201", admin_schemas.IssuedKeyOut),
    ("get", "/admin/api-keys"): (None, "200", admin_schemas.KeyList),
    ("post", "/admin/api-keys/verify"): (admin_schemas.VerifyKeyRequest, "200", admin_schemas.VerifyKeyOut),
    ("get", "/admin/api-keys/{key_id}"): (None, "200", admin_schemas.ApiKeyOut),
    ("patch", "/admin/api-keys/{key_id}"): (admin_schemas.UpdateKeyRequest, "200", admin_schemas.ApiKeyOut),
    ("post", "/admin/api-keys/{key_id}/revoke"): (None, "200", admin_schemas.ApiKeyOut),
    ("delete", "/admin/api-keys/{key_id}"): (None, "200", admin_schemas.DeletedKeyOut),
    ("get", "/admin/api-keys/{key_id}/usage"): (None, "200", admin_schemas.UsagePage),
    ("get", "/admin/api-keys/{key_id}/stats"): (None, "200", admin_schemas.KeyStatsOut),
    ("get", "/admin/credits/balance/{organization_id}"): (None, "200", admin_schemas.BalanceOut),
    ("get", "/admin/credits/transactions/{organization_id}"): (None, "200", admin_schemas.TransactionPage),
    ("post", "/admin/credits/adjust"): (admin_schemas.AdjustCreditsRequest, "201", admin_schemas.AdjustmentOut),
    ("post", "/admin/stripe/checkout-session"): (admin_schemas.CheckoutRequestIn, "201",
                                                 admin_schemas.CheckoutSessionOut),
}


def _tag(path: str) -> str:
    for prefix, tag in (("/admin", "admin"), ("/ui", "dashboard"), ("/webhooks", "webhooks"),
                        ("/v1/messages", "anthropic"), ("/v1beta", "gemini"), ("/v1alpha", "gemini"),
                        ("/v1/models/", "gemini"), ("/v1/generate", "gemini"), ("/v1/responses", "openai"),
                        ("/v1/select-model", "routing"), ("/v1", "openai")):
        if path.startswith(prefix):
            return tag
    return "system"


def _operation_id(method: str, path: str) -> str:
    """post /admin/api-keys/{key_id} -> post_admin_api_keys_key_id"""
    return "_".join([method, *re.findall(r"[A-Za-z0-9]+", path)])


def _json(docs: OpenAPIHandler, model: type[BaseModel]) -> dict[str, MediaType]:
    return {"application/json": MediaType(schema=docs.register_schema_for_type(model))}


def _gemini_paths(router: Router) -> dict[str, PathItem]:
    """`/{version}/models/*` is one catch-all route; document what it answers."""
    paths: dict[str, PathItem] = {}
    for route in router:
        pattern = route.pattern.decode()
        if not pattern.endswith("/models/*"):
            continue
        base = pattern.removesuffix("*")
        for method in GEMINI_METHODS:
            paths[f"{base}{{model}}:{method}"] = PathItem(post=Operation(
                summary=f"Gemini {method}", tags=["gemini"], operation_id=_operation_id("post", f"{base}{method}"),
                parameters=[Parameter(name="model", in_=ParameterLocation.PATH, required=True,
                                      schema=Schema(type=ValueType.STRING),
                                      description="model name, optionally provider-prefixed (e.g. gemini-2.0-flash)")],
                responses={"200": ResponseDoc(
                    description="the Gemini API's response (SSE for streamGenerateContent)")}))
    return paths


def document(docs: OpenAPIHandler, app: Application) -> OpenAPI:
    spec = docs.generate_documentation(app)
    spec.paths = {path: item for path, item in spec.paths.items() if not path.endswith("/models/*")}
    spec.paths.update(_gemini_paths(app.router))
    for path, item in spec.paths.items():
        for method in ("get", "post", "put", "patch", "delete"):
            operation: Operation | None = getattr(item, method)
            if operation is None:
                continue
            operation.tags = [_tag(path)]
            operation.operation_id = _operation_id(method, path)  # handler names repeat (ui wrappers)
            typed = TYPED.get((method, path))
            if typed is None:
                continue
            request_model, status, response_model = typed
            if request_model is not None:
                operation.request_body = RequestBody(content=_json(docs, request_model), required=True)
            if response_model is not None:
                operation.responses = {status: ResponseDoc(description="success", content=_json(docs, response_model)),
                                       "400": ResponseDoc(description="invalid request, in the OpenAI error shape")}
    spec.tags = None
    return spec


def register(router: Router, app: Application, version: str) -> None:
    """Serve the document, generated on its first request (start-up pays nothing), from the
    routes the started app has registered."""
    docs = OpenAPIHandler(info=Info(title="AdaptiveProxy", version=version))
    docs.ui_providers = []  # the JSON document only: no Swagger UI page loading scripts from a CDN
    body: list[bytes] = []

    async def openapi_json() -> Response:
        """This document."""
        if not body:
            body.append(DefaultSerializer().to_json(document(docs, app)).encode())
        return Response(200, None, Content(b"application/json", body[0]))

    router.add_get(PATH, openapi_json)


def routes(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) pairs a document describes."""
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete", "head", "options")}
