"""GET /openapi.json: a valid OpenAPI 3 document naming every route the app registered."""

from __future__ import annotations

import re
from pathlib import Path

from openapi_spec_validator import validate

from entrypoints.http.openapi import routes
from tests.http import metered as harness
from tests.http.metered import metered_config

metered = harness.metered  # the shared fixture


def _documented(pattern: str, documented: set[str]) -> bool:
    if pattern.endswith("/*"):  # a catch-all (Gemini's /{version}/models/*): its methods are listed
        return any(path.startswith(pattern[:-1]) and path != pattern[:-1] for path in documented)
    return re.sub(r":(\w+)", r"{\1}", pattern) in documented


async def test_every_route_is_documented_and_the_document_is_valid_openapi_3(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path, dashboard={"enabled": True}))
    response = await gw.client.get("/openapi.json")  # no API key, no admin token: public like /health
    assert response.status == 200
    spec = await response.json()
    validate(spec)
    assert spec["openapi"].startswith("3.")
    documented = routes(spec)
    registered = {(method, route.pattern.decode()) for method, route in gw.app.router.iter_with_methods()
                  if method != "*"}  # "*" is the 404 fallback
    assert len(registered) > 40
    missing = [(method, pattern) for method, pattern in sorted(registered)
               if method != "HEAD" and not _documented(pattern, {p for m, p in documented if m == method})]
    assert not missing
    assert ("GET", "/openapi.json") in documented and ("GET", "/health") in documented


async def test_typed_routes_carry_their_request_and_response_schemas(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    spec = await (await gw.client.get("/openapi.json")).json()
    select = spec["paths"]["/v1/select-model"]["post"]
    assert select["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/SelectModelRequest")
    schemas = spec["components"]["schemas"]
    candidate = schemas["CandidateModel"]["properties"]
    assert {"model_name", "cost_per_1m_input_tokens", "supports_tool_calling", "input_per_mtok"} <= set(candidate)
    created = spec["paths"]["/admin/api-keys"]["post"]["responses"]["201"]["content"]["application/json"]
    assert created["schema"]["$ref"].endswith("/IssuedKeyOut")
    assert "key" in schemas["IssuedKeyOut"]["properties"]
    assert set(spec["paths"]["/v1beta/models/{model}:generateContent"]) == {"post"}


async def test_openapi_needs_no_key_while_the_api_does(metered, tmp_path: Path) -> None:
    gw = await metered(metered_config(tmp_path))
    assert (await gw.client.get("/v1/models")).status == 401  # keys are required on the API itself
    assert (await gw.client.get("/openapi.json")).status == 200
