from __future__ import annotations

from pathlib import Path

import pytest

from adapters.config import ConfigError, load_settings, settings_from_dict
from adapters.config.env import load_environment, parse_env_file, substitute
from entrypoints.cli import describe_startup

ROOT = Path(__file__).resolve().parents[2]


def test_substitution_with_defaults_and_empty_counts_as_unset() -> None:
    env = {"SET": "value", "EMPTY": ""}
    tree = {"a": "${SET}", "b": "${EMPTY:-fallback}", "c": ["x-${MISSING:-d}-y"], "d": "${MISSING}", "n": 3}
    assert substitute(tree, env) == {"a": "value", "b": "fallback", "c": ["x-d-y"], "d": "", "n": 3}


def test_substitution_cannot_inject_yaml_structure(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("providers:\n  p:\n    kind: openai\n    api_key: ${KEY}\n")
    settings = load_settings(path, env_files=[], environ={"KEY": "x\n    timeout_ms: 1"})
    assert settings.providers["p"].api_key == "x\n    timeout_ms: 1"
    assert settings.providers["p"].timeout_ms == 60_000


def test_env_files_first_file_wins_and_real_environment_beats_files(tmp_path: Path) -> None:
    first = tmp_path / "first.env"
    second = tmp_path / "second.env"
    first.write_text("A=from-first\nexport B='quoted first'\n# comment\n")
    second.write_text("A=from-second\nB=second\nC=only-second # trailing comment\nD=file\n")
    env = load_environment([first, second], environ={"D": "real"})
    assert env["A"] == "from-first"
    assert env["B"] == "quoted first"
    assert env["C"] == "only-second"
    assert env["D"] == "real"


def test_explicit_env_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_environment([tmp_path / "nope.env"], environ={})


def test_default_env_files_are_optional_and_read_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_environment(None, environ={}) == {}
    (tmp_path / ".env").write_text("X=env\nY=env\n")
    (tmp_path / ".env.local").write_text("X=local\n")
    assert load_environment(None, environ={}) == {"X": "local", "Y": "env"}


def test_parse_env_file_ignores_garbage() -> None:
    assert parse_env_file("not a line\n=bad\nOK=1\n") == {"OK": "1"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"providers": {"openai": {"kind": "openai", "timeout_ms": "soon"}}},
         "providers.openai.timeout_ms: expected an integer"),
        ({"providers": {"openai": {"kind": "openai", "timeoutms": 5}}}, "providers.openai.timeoutms: unknown key"),
        ({"providers": {"openai": {"base_url": "x"}}}, "providers.openai.kind: required value missing"),
        ({"server": {"port": "eighty"}}, "server.port: expected an integer"),
        ({"endpoints": {"chat_completions": {"providers": ["ghost"]}}}, "unknown provider 'ghost'"),
        ({"server": {"cors": {"allow_origins": ["*"], "allow_credentials": True}}}, "wildcard origin"),
        ({"model_router": {"external": {"url": "http://router/route"}}},
         "model_router.external: jwt_secret is required when url is set"),
        ({"model_router": {"external": {"url": "router:8000", "jwt_secret": "s"}}},
         "model_router.external: url must start with http:// or https://"),
        ({"model_router": {"cache": {"semantic": True}}}, "model_router.cache.semantic needs embeddings.provider"),
        ({"model_router": {"prior": {"agentic": 2}}}, "model_router.prior.agentic: input should be less than or equal"),
    ],
)
def test_validation_errors_name_the_key(data: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        settings_from_dict(data)
    assert message in str(caught.value)


def test_env_strings_coerce_to_typed_values(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("server:\n  port: ${PORT:-9000}\nproviders:\n  l:\n    kind: openai\n"
                    "    requires_key: false\n    enabled: ${ON:-false}\n")
    settings = load_settings(path, env_files=[], environ={"ON": "true"})
    assert settings.server.port == 9000
    assert settings.providers["l"].active


@pytest.mark.parametrize("name", ["config.json", "../config.yaml", "sub/../config.yaml"])
def test_config_paths_must_be_yaml_and_not_escape(name: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(name, env_files=[], environ={})


def test_provider_without_key_is_disabled_not_a_crash() -> None:
    settings = load_settings(ROOT / "config.yaml", env_files=[], environ={"GROQ_API_KEY": "k"})
    assert set(settings.active_providers()) == {"groq"}
    assert settings.providers["openai"].api_key == ""
    assert settings.endpoint_providers("chat_completions") == ["groq"]


def test_startup_lines_name_an_external_router_and_a_semantic_cache() -> None:
    settings = settings_from_dict({
        "providers": {"oa": {"kind": "openai", "api_key": "k"}}, "embeddings": {"provider": "oa"},
        "model_router": {"cost_bias": 0.3, "cache": {"semantic": True, "ttl_s": 60},
                         "external": {"url": "https://router.internal/route", "jwt_secret": "s"}}})
    assert describe_startup(settings)[-1] == ("routing: external router at https://router.internal/route, "
                                              "cost_bias 0.3; decision cache: exact + semantic, ttl 60s, "
                                              "10000 entries")
    off = settings_from_dict({"model_router": {"enabled": False}})
    assert describe_startup(off)[-1] == "routing: off (unprefixed models use server.default_model)"


def test_config_problems_are_named_once_at_start_up() -> None:
    from application.settings import Settings
    from entrypoints.cli import config_warnings

    assert config_warnings(Settings.model_validate(
        {"providers": {"a": {"kind": "openai", "api_key": "k", "models": {"m": {}}}}})) == []
    none = config_warnings(Settings.model_validate({"providers": {}}))
    assert len(none) == 1 and none[0].startswith("no provider is enabled") and "OPENAI_API_KEY" in none[0]
    wrong_default = config_warnings(Settings.model_validate(
        {"providers": {"a": {"kind": "openai", "api_key": "k", "models": {"m": {}}},
                       "b": {"kind": "openai", "api_key": "", "models": {"m": {}}}},
         "server": {"default_model": "b:m"}}))
    assert wrong_default == ["server.default_model 'b:m' names provider 'b', which is disabled: "
                             "requests without a model fall back to the router or fail"]
    keys = config_warnings(Settings.model_validate(
        {"providers": {"a": {"kind": "openai", "api_key": "k", "models": {"m": {}}}}, "auth": {"api_keys": True}}))
    assert len(keys) == 1 and "auth.admin_token is empty" in keys[0]
