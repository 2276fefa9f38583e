from __future__ import annotations

import pytest

from adapters.config import settings_from_dict
from application.request_config import base_config, resolve
from domain.errors import InvalidRequest

SETTINGS = settings_from_dict({
    "providers": {"openai": {"kind": "openai", "base_url": "https://api.openai.com/v1", "api_key": "server-key",
                             "timeout_ms": 30000, "headers": {"x-a": "1"}, "models": {"m": {}}}},
    "fallback": {"mode": "sequential", "max_retries": 3, "timeout_ms": 9000},
    "model_router": {"cost_bias": 0.3},
})


def test_no_override_returns_the_shared_base() -> None:
    base = base_config(SETTINGS)
    assert resolve(SETTINGS, {"model": "x"}, base) is base


def test_absent_fields_keep_yaml_values() -> None:
    config = resolve(SETTINGS, {"fallback": {"mode": "race"}, "model_router": {"cost_bias": 0.9}})
    assert config.fallback.mode == "race"
    assert config.fallback.max_retries == 3  # not reset to the default
    assert config.fallback.timeout_ms == 9000
    assert config.model_router.cost_bias == 0.9


def test_provider_override_merges_field_by_field() -> None:
    config = resolve(SETTINGS, {"provider_configs": {"openai": {"timeout_ms": 5000, "headers": {"x-b": "2"}}}})
    openai = config.providers["openai"]
    assert openai.timeout_ms == 5000
    assert openai.api_key == "server-key"
    assert openai.headers == {"x-a": "1", "x-b": "2"}
    assert config.overridden == {"openai"}
    assert SETTINGS.providers["openai"].timeout_ms == 30000  # the YAML is untouched


def test_server_key_never_goes_to_another_base_url() -> None:
    with pytest.raises(InvalidRequest, match="requires the request's own api_key"):
        resolve(SETTINGS, {"provider_configs": {"openai": {"base_url": "https://evil.example/v1"}}})
    config = resolve(SETTINGS, {"provider_configs": {"openai": {"base_url": "https://mine.example/v1",
                                                                "api_key": "my-key"}}})
    assert config.providers["openai"].api_key == "my-key"


def test_same_base_url_with_trailing_slash_is_not_a_change() -> None:
    config = resolve(SETTINGS, {"provider_configs": {"openai": {"base_url": "https://api.openai.com/v1/"}}})
    assert config.providers["openai"].api_key == "server-key"


def test_new_provider_needs_kind_and_base_url() -> None:
    with pytest.raises(InvalidRequest, match="needs kind and base_url"):
        resolve(SETTINGS, {"provider_configs": {"mine": {"api_key": "k"}}})
    config = resolve(SETTINGS, {"provider_configs": {"mine": {"kind": "openai", "base_url": "http://h/v1",
                                                              "api_key": "k"}}})
    assert config.providers["mine"].active


@pytest.mark.parametrize("body", [
    {"fallback": {"mode": "sideways"}},
    {"fallback": "race"},
    {"model_router": {"cost_bias": 2}},
    {"provider_configs": {"openai": {"timeout_ms": "soon"}}},
    {"provider_configs": ["openai"]},
])
def test_bad_overrides_are_400_naming_the_field(body: dict) -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolve(SETTINGS, body)
    assert caught.value.param and caught.value.param.split(".")[0] in body


@pytest.mark.parametrize(("body", "param"), [
    ({"model_router": {"external": {"url": "http://attacker.test/route"}}}, "model_router.external"),
    ({"model_router": {"external": {}}}, "model_router.external"),
    ({"model_router": {"cache": {"max_entries": 10**9}}}, "model_router.cache.max_entries"),
    ({"model_router": {"prior": {"agentic": 1.0}}}, "model_router.prior"),
])
def test_server_only_router_settings_are_refused(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        resolve(SETTINGS, body)
    assert caught.value.param == param
    assert "only be set in the server configuration" in caught.value.message


def test_a_request_may_tune_its_routing_cache() -> None:
    config = resolve(SETTINGS, {"model_router": {"cache": {"enabled": False, "semantic_threshold": 0.9}}})
    assert not config.model_router.cache.enabled
    assert config.model_router.cache.semantic_threshold == 0.9
    assert config.model_router.cache.max_entries == SETTINGS.model_router.cache.max_entries
