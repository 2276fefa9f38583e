"""The original gateway's documented request shapes, through the real app in all three families."""

from __future__ import annotations

import pytest
from blacksheep.contents import JSONContent

from tests.http.test_anthropic_gemini_routes import CONFIG, ok

ROUTED = {**CONFIG, "model_router": {"enabled": True, "cost_bias": 0.5}}

OPENAI = ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
ANTHROPIC = ("/v1/messages", {"max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
GEMINI = ("/v1beta/models/auto:generateContent", {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
FAMILIES = [OPENAI, ANTHROPIC, GEMINI]
HOST = {"up_openai": "oai", "up_anthropic": "anth", "up_gemini": "gem"}


@pytest.mark.parametrize(("path", "body"), FAMILIES)
@pytest.mark.parametrize(("models", "provider"), [
    ([{"provider": "up_anthropic"}], "up_anthropic"),
    ([{"provider": "up_gemini", "model": "gemini-x"}], "up_gemini"),
    ([{"provider": "up_openai", "model_name": "m1"}], "up_openai"),
    (["up_gemini:gemini-x"], "up_gemini"),
])
async def test_model_router_models_as_objects_restrict_routing(gateway, path: str, body: dict, models: list,
                                                               provider: str) -> None:
    upstream = ok()
    client = await gateway(ROUTED, upstream)
    response = await client.post(path, content=JSONContent({**body, "model_router": {"models": models}}))
    assert response.status == 200, await response.text()
    assert upstream.last.url.host.split(".")[0] == HOST[provider]


@pytest.mark.parametrize(("path", "body"), FAMILIES)
@pytest.mark.parametrize(("override", "named"), [
    ({"provider_configs": {"new": {"kind": 1, "base_url": 1}}}, "base_url"),
    ({"provider_configs": {"new": {"kind": "cobol", "base_url": "http://x"}}}, "kind"),
    ({"provider_configs": {"up_openai": {"base_url": 5}}}, "base_url"),
    ({"provider_configs": {"up_openai": {"api_key": ["k"]}}}, "api_key"),
    ({"provider_configs": {"up_openai": {"health_endpoint": "/health"}}}, "health_endpoint"),
    ({"provider_configs": {"up_openai": {"retry_config": {"max_retries": 3}}}}, "retry_config"),
    ({"model_router": {"models": [{"provider": "up_openai", "colour": "red"}]}}, "colour"),
    ({"fallback": {"circuit_breaker": {"failure_threshold": 3, "half_life": 9}}}, "half_life"),
])
async def test_wrong_or_meaningless_override_fields_are_400_not_500(gateway, path: str, body: dict,
                                                                   override: dict, named: str) -> None:
    client = await gateway(CONFIG, ok())
    sent = {**body, **override} if path.startswith("/v1beta") else {**body, "model": "up_openai:m1", **override}
    response = await client.post(path, content=JSONContent(sent))
    assert response.status == 400, await response.text()
    assert named in str(await response.json())


async def test_circuit_breaker_spelling_is_mapped_onto_the_breaker(gateway) -> None:
    from adapters.config import settings_from_dict

    settings = settings_from_dict({"fallback": {"circuit_breaker": {
        "failure_threshold": 2, "success_threshold": 3, "timeout_ms": 1000, "reset_after_ms": 4000}}})
    breaker = settings.fallback.breaker
    assert (breaker.failure_threshold, breaker.success_threshold, breaker.open_timeout_ms) == (2, 3, 4000)


async def test_custom_auth_header_carries_the_providers_key(gateway) -> None:
    config = {"providers": {"up_openai": {**CONFIG["providers"]["up_openai"], "auth_type": "api_key",
                                          "auth_header_name": "api-key"}}}
    upstream = ok()
    client = await gateway(config, upstream)
    response = await client.post("/v1/chat/completions", content=JSONContent(
        {"model": "up_openai:m1", "messages": [{"role": "user", "content": "hi"}]}))
    assert response.status == 200, await response.text()
    assert upstream.last.headers["api-key"] == "sk-oai-server"


async def test_no_provider_enabled_names_the_environment_variables(gateway) -> None:
    client = await gateway({"providers": {"up_openai": {**CONFIG["providers"]["up_openai"], "api_key": ""}}}, ok())
    response = await client.post("/v1/chat/completions", content=JSONContent(
        {"messages": [{"role": "user", "content": "hi"}]}))
    assert response.status == 400
    message = (await response.json())["error"]["message"]
    assert "no provider is enabled" in message and "OPENAI_API_KEY" in message


async def test_root_answers_a_welcome_listing_the_served_endpoints(gateway) -> None:
    client = await gateway({**CONFIG, "endpoints": {"chat_completions": {}, "messages": {},
                                                  "gemini": {"enabled": False}}}, ok())
    response = await client.get("/")
    assert response.status == 200
    body = await response.json()
    assert body["service"] == "adaptive-proxy" and body["version"]
    paths = {e["path"]: e["methods"] for e in body["endpoints"]}
    assert paths["/v1/chat/completions"] == ["POST"] and "/v1/messages" in paths and "/health" in paths
    assert not any("generateContent" in p for p in paths)
