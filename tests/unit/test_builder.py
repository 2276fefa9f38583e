"""The library builder: the same settings as the YAML for the same intent, the same error
messages at build(), and every documented method with an effect a test observes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.config import ConfigError, load_settings, settings_from_dict
from application.settings import ENDPOINTS, Settings
from entrypoints.library import (
    FallbackSettings,
    ModelRouterSettings,
    ModelSettings,
    PromptCacheSettings,
    ProviderSettings,
    Proxy,
    ProxyBuilder,
)

ROOT = Path(__file__).resolve().parents[2]


def from_yaml_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return load_settings(path, env_files=[], environ=environ or {})


def served(settings: Settings) -> dict[str, list[str]]:
    return {f: settings.endpoint_providers(f) for f in ENDPOINTS
            if (e := settings.endpoints.get(f)) is not None and e.enabled}


# --- the builder and the YAML agree ---------------------------------------------------------------

def test_the_issue_example_is_the_yaml_it_stands_for(tmp_path: Path) -> None:
    built = (ProxyBuilder().port(8080).environment("production")
             .add_provider("openai", ProviderSettings(kind="openai", api_key="sk-1", timeout_ms=30000,
                                                      rate_limit_rpm=100), endpoints=["chat_completions"])
             .build_settings())
    yaml = from_yaml_text(tmp_path, """
server: {port: 8080, environment: production}
providers:
  openai: {kind: openai, api_key: sk-1, timeout_ms: 30000, rate_limit_rpm: 100}
endpoints:
  chat_completions: {enabled: true}
  messages: {enabled: false}
  gemini: {enabled: false}
""")
    assert built == yaml
    assert served(built) == {"chat_completions": ["openai"]}


PARITY: list[tuple[str, Callable[[], ProxyBuilder], str]] = [
    ("three kinds, every family",
     lambda: (ProxyBuilder()
              .add_openai_compatible_provider("oa", base_url="http://oa.test/v1", api_key="k", models=["gpt-4o-mini"])
              .add_anthropic_compatible_provider("an", api_key="k", models={
                  "claude-sonnet-4-5": ModelSettings(input_per_mtok=3, output_per_mtok=15, supports_vision=True)})
              .add_gemini_compatible_provider("ge", api_key="k", models={"gemini-2.5-flash": {"quality": 0.8}},
                                              headers={"x-team": "a"})
              .default_model("oa:gpt-4o-mini")),
     """
server: {default_model: "oa:gpt-4o-mini"}
providers:
  oa: {kind: openai, base_url: "http://oa.test/v1", api_key: k, models: {gpt-4o-mini: {}}}
  an: {kind: anthropic, api_key: k,
       models: {claude-sonnet-4-5: {input_per_mtok: 3, output_per_mtok: 15, supports_vision: true}}}
  ge: {kind: gemini, api_key: k, headers: {x-team: a}, models: {gemini-2.5-flash: {quality: 0.8}}}
"""),
    ("policies",
     lambda: (ProxyBuilder()
              .add_openai_compatible_provider("local", base_url="http://127.0.0.1:11434/v1", requires_key=False,
                                              models=["llama3"])
              .with_model_router(ModelRouterSettings(cost_bias=0.2), models=["local:llama3"])
              .with_fallback(FallbackSettings(mode="race", race_width=3), breaker={"failure_threshold": 2})
              .with_prompt_cache(ttl_s=60)
              .with_timeout(12.5)),
     """
providers:
  local: {kind: openai, base_url: "http://127.0.0.1:11434/v1", requires_key: false, timeout_ms: 12500,
          models: {llama3: {}}}
model_router: {cost_bias: 0.2, models: ["local:llama3"]}
fallback: {mode: race, race_width: 3, timeout_ms: 12500, breaker: {failure_threshold: 2}}
prompt_cache: {enabled: true, ttl_s: 60}
"""),
    ("metered service",
     lambda: (ProxyBuilder()
              .with_redis("redis://cache:6379/2", key_prefix="gw:")
              .with_database("postgresql://gw@db/gw", auto_migrate=False)
              .enable_api_key_auth(admin_token="admin")
              .enable_credits(currency="EUR")
              .with_stripe("sk_test_1", "whsec_1")
              .with_rate_limit(10, "second", per_provider=True)
              .with_cors(["https://app.example"], allow_credentials=True)
              .enable_endpoint("chat_completions")),
     """
server: {cors: {allow_origins: ["https://app.example"], allow_credentials: true}}
redis: {url: "redis://cache:6379/2", key_prefix: "gw:"}
database: {url: "postgresql://gw@db/gw", auto_migrate: false}
auth: {api_keys: true, admin_token: admin}
credits: {enabled: true, currency: EUR}
stripe: {secret_key: sk_test_1, webhook_secret: whsec_1}
rate_limit: {requests_per_minute: 600, per_provider: true}
endpoints: {chat_completions: {}, messages: {enabled: false}, gemini: {enabled: false}}
"""),
    ("endpoint restrictions",
     lambda: (ProxyBuilder()
              .add_openai_compatible_provider("a", api_key="k", endpoints=["chat_completions", "messages"])
              .add_anthropic_compatible_provider("b", api_key="k")
              .disable_endpoint("gemini")),
     """
providers:
  a: {kind: openai, api_key: k}
  b: {kind: anthropic, api_key: k}
endpoints:
  chat_completions: {providers: []}
  messages: {providers: []}
  gemini: {enabled: false, providers: [b]}
"""),
]


@pytest.mark.parametrize(("build", "yaml"), [(b, y) for _, b, y in PARITY], ids=[i for i, _, _ in PARITY])
def test_builder_and_yaml_give_identical_settings(tmp_path: Path, build: Callable[[], ProxyBuilder],
                                                  yaml: str) -> None:
    assert build().build_settings() == from_yaml_text(tmp_path, yaml)


@pytest.mark.parametrize("path", ["config.yaml", "docs/examples/fake-upstream.yaml"])
def test_from_yaml_round_trips_the_shipped_files(path: str) -> None:
    expected = load_settings(ROOT / path, env_files=[], environ={})
    assert ProxyBuilder.from_yaml(ROOT / path, environ={}).build_settings() == expected


@pytest.mark.parametrize("endpoints", [
    "endpoints: {chat_completions: {providers: [a]}}",
    "endpoints: {messages: {enabled: false, providers: [b]}, gemini: {}}",
    "endpoints: {}",
])
def test_from_yaml_keeps_an_endpoints_section_as_written(tmp_path: Path, endpoints: str) -> None:
    text = f"providers: {{a: {{kind: openai, api_key: k}}, b: {{kind: gemini, api_key: k}}}}\n{endpoints}\n"
    expected = from_yaml_text(tmp_path, text)
    assert ProxyBuilder.from_yaml(tmp_path / "config.yaml").build_settings() == expected


def test_from_yaml_then_adjust(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("""
server: {port: 8000}
providers: {main: {kind: openai, api_key: "${MAIN_KEY}", timeout_ms: 5000}}
endpoints: {chat_completions: {providers: [main]}, messages: {}, gemini: {}}
""")
    (tmp_path / "c.env").write_text("MAIN_KEY=from-env-file\n")
    settings = (ProxyBuilder.from_yaml(tmp_path / "c.yaml", env_files=[tmp_path / "c.env"])
                .port(9000).with_timeout(2)
                .add_anthropic_compatible_provider("extra", api_key="k", endpoints=["messages"])
                .build_settings())
    assert settings.server.port == 9000
    assert settings.providers["main"].api_key == "from-env-file"
    assert settings.providers["main"].timeout_ms == 5000  # the file's own timeout wins
    assert settings.providers["extra"].timeout_ms == 2000
    assert served(settings) == {"chat_completions": ["main"], "messages": ["main", "extra"], "gemini": ["main"]}


def test_from_yaml_reads_no_env_file_it_is_not_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HIDDEN_KEY", raising=False)
    (tmp_path / ".env").write_text("HIDDEN_KEY=leaked\n")
    (tmp_path / "c.yaml").write_text("providers: {p: {kind: openai, api_key: '${HIDDEN_KEY}'}}\n")
    assert ProxyBuilder.from_yaml("c.yaml").build_settings().providers["p"].api_key == ""
    assert ProxyBuilder.from_yaml("c.yaml", env_files=[".env"]).build_settings().providers["p"].api_key == "leaked"
    with pytest.raises(ConfigError, match="config file not found"):
        ProxyBuilder.from_yaml("missing.yaml")


# --- misconfiguration fails at build(), with the YAML's message -----------------------------------

BAD: list[tuple[Callable[[ProxyBuilder], Any], dict[str, Any]]] = [
    (lambda b: b.add_provider("openai", {"kind": "openai", "timeout_ms": "soon"}),
     {"providers": {"openai": {"kind": "openai", "timeout_ms": "soon"}}}),
    (lambda b: b.add_openai_compatible_provider("x", timeout_ms=0), {"providers": {"x": {"kind": "openai",
                                                                                          "timeout_ms": 0}}}),
    (lambda b: b.add_provider("a:b", {"kind": "openai"}), {"providers": {"a:b": {"kind": "openai"}}}),
    (lambda b: b.add_provider("x", {"kind": "mistral"}), {"providers": {"x": {"kind": "mistral"}}}),
    (lambda b: b.add_provider("x", {"kind": "openai", "modles": {}}), {"providers": {"x": {"kind": "openai",
                                                                                             "modles": {}}}}),
    (lambda b: b.port("eighty"), {"server": {"port": "eighty"}}),
    (lambda b: b.environment("staging"), {"server": {"environment": "staging"}}),
    (lambda b: b.with_fallback(mode="parallel"), {"fallback": {"mode": "parallel"}}),
    (lambda b: b.with_model_router(cost_bias=2), {"model_router": {"cost_bias": 2}}),
    (lambda b: b.with_cors("*", allow_credentials=True),
     {"server": {"cors": {"allow_origins": ["*"], "allow_credentials": True}}}),
    (lambda b: b.enable_credits(), {"credits": {"enabled": True}}),
    (lambda b: b.with_redis("localhost:6379"), {"redis": {"url": "localhost:6379"}}),
    (lambda b: b.with_database("gateway.db"), {"database": {"url": "gateway.db"}}),
    (lambda b: b.with_setting("usage.batch_size", -1), {"usage": {"batch_size": -1}}),
    (lambda b: b.with_rate_limit("many").enable_api_key_auth(),
     {"rate_limit": {"requests_per_minute": "many"}, "auth": {"api_keys": True}}),
    (lambda b: b.enable_endpoint("chat_completions", providers=["ghost"]),
     {"endpoints": {"chat_completions": {"providers": ["ghost"]}}}),
]


@pytest.mark.parametrize(("mistake", "yaml"), BAD)
def test_a_mistake_fails_at_build_with_the_yaml_loaders_message(mistake: Callable[[ProxyBuilder], Any],
                                                                 yaml: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as from_yaml:
        settings_from_dict(yaml)
    builder = ProxyBuilder()
    mistake(builder)  # the builder itself never raises: everything is checked at build()
    with pytest.raises(ConfigError) as from_builder:
        builder.build()
    assert str(from_builder.value) == str(from_yaml.value)
    assert "\n" not in str(from_builder.value)


def test_the_message_names_the_key_like_the_readme_says() -> None:
    with pytest.raises(ConfigError, match=r"^providers\.openai\.timeout_ms: expected an integer$"):
        ProxyBuilder().add_provider("openai", {"kind": "openai", "timeout_ms": "x"}).build_settings()


@pytest.mark.parametrize(("requests", "per", "rpm"), [
    (100, "minute", 100), (10, "second", 600), (120, "hour", 2), (1440, "day", 1), (5, 30, 10), (3, 0.5, 360),
])
def test_rate_limit_periods(requests: int, per: float | str, rpm: int) -> None:
    settings = ProxyBuilder().enable_api_key_auth().with_rate_limit(requests, per).build_settings()
    assert settings.rate_limit.requests_per_minute == rpm


@pytest.mark.parametrize(("requests", "per", "message"), [
    (100, "hour", "100 requests per 3600s is 1.667 per minute; the limit counts whole requests per minute"),
    (10, "fortnight", "per must be a positive number of seconds or one of second, minute, hour, day"),
    (10, 0, "per must be a positive number of seconds"),
    (2.5, "second", "expected a positive whole number of requests"),
    (0, "minute", "rate_limit.requests_per_minute: input should be greater than 0"),
])
def test_rate_limit_mistakes(requests: Any, per: Any, message: str) -> None:
    builder = ProxyBuilder().enable_api_key_auth().with_rate_limit(requests, per)
    with pytest.raises(ConfigError, match=re.escape(message)):
        builder.build_settings()


def test_a_rate_limit_without_api_keys_would_do_nothing_so_it_is_refused() -> None:
    with pytest.raises(ConfigError, match="applies to each API key; call enable_api_key_auth"):
        ProxyBuilder().with_rate_limit(10).build_settings()
    assert ProxyBuilder().with_rate_limit(per_provider=True).build_settings().rate_limit.per_provider


def test_timeout_defaults_providers_and_bounds_the_request() -> None:
    settings = (ProxyBuilder().with_timeout(1.5)
                .add_provider("own", ProviderSettings(kind="openai", timeout_ms=900))
                .add_openai_compatible_provider("plain")
                .build_settings())
    assert settings.providers["own"].timeout_ms == 900
    assert settings.providers["plain"].timeout_ms == 1500
    assert settings.fallback.timeout_ms == 1500
    assert ProxyBuilder().with_fallback(timeout_ms=9000).with_timeout(1).build_settings().fallback.timeout_ms == 9000
    for bad in (0, -1, "ten", True, float("nan")):
        with pytest.raises(ConfigError, match="timeout: expected a positive number of seconds"):
            ProxyBuilder().with_timeout(bad).build_settings()  # type: ignore[arg-type]


# --- endpoints --------------------------------------------------------------------------------------

def test_a_builder_without_providers_serves_no_family() -> None:
    settings = ProxyBuilder().build_settings()
    assert served(settings) == {}
    assert served(ProxyBuilder().enable_endpoint("messages").build_settings()) == {"messages": []}


def test_a_provider_without_endpoints_serves_every_family_like_the_yaml_default() -> None:
    settings = ProxyBuilder().add_openai_compatible_provider("p", api_key="k").build_settings()
    assert "endpoints" not in ProxyBuilder().add_openai_compatible_provider("p", api_key="k").to_dict()
    assert served(settings) == {f: ["p"] for f in ENDPOINTS}


def test_families_follow_their_providers() -> None:
    builder = (ProxyBuilder()
               .add_openai_compatible_provider("oa", api_key="k", endpoints=["chat_completions"])
               .add_anthropic_compatible_provider("an", api_key="k", endpoints=["messages", "chat_completions"]))
    assert served(builder.build_settings()) == {"chat_completions": ["oa", "an"], "messages": ["an"]}
    builder.enable_endpoint("gemini", providers=["oa"]).disable_endpoint("messages")
    assert served(builder.build_settings()) == {"chat_completions": ["oa", "an"], "gemini": ["oa"]}
    builder.add_anthropic_compatible_provider("an", api_key="k")  # re-added without endpoints
    # ... it serves every family not restricted to a list (gemini is, to oa; messages stays off)
    assert served(builder.build_settings()) == {"chat_completions": ["oa", "an"], "gemini": ["oa"]}
    builder.enable_endpoint("messages")
    assert served(builder.build_settings())["messages"] == ["an"]


def test_an_enabled_family_no_provider_may_serve_is_an_error() -> None:
    builder = ProxyBuilder().add_openai_compatible_provider("oa", api_key="k", endpoints="chat_completions")
    with pytest.raises(ConfigError, match=r"endpoints\.messages: enabled, but every provider was added for other"):
        builder.enable_endpoint("messages").build_settings()


def test_an_unknown_family_is_named_like_in_the_yaml() -> None:
    with pytest.raises(ConfigError) as from_yaml:
        settings_from_dict({"endpoints": {"chat": {}}})
    with pytest.raises(ConfigError) as from_builder:
        ProxyBuilder().add_openai_compatible_provider("oa", endpoints=["chat"]).build_settings()
    assert str(from_builder.value) == str(from_yaml.value)


# --- no half configuration ----------------------------------------------------------------------------

def test_there_is_no_none_configuration() -> None:
    proxy = ProxyBuilder().build()
    assert isinstance(proxy.settings, Settings)
    assert proxy.settings.server.port == 8080
    with pytest.raises(TypeError, match="validated Settings"):
        Proxy(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="validated Settings"):
        Proxy({"server": {}})  # type: ignore[arg-type]


def test_the_builder_keeps_its_inputs_to_itself() -> None:
    provider = {"kind": "openai", "models": {"m": {}}}
    builder = ProxyBuilder().add_provider("p", provider)
    provider["models"]["n"] = {}
    copy = builder.copy().port(1)
    assert list(builder.build_settings().providers["p"].models) == ["m"]
    assert builder.build_settings().server.port == 8080 and copy.build_settings().server.port == 1


async def _ok(request: Any, next_handler: Any) -> Any:
    return await next_handler(request)


class _Instance:
    async def __call__(self, request: Any, next_handler: Any) -> Any:
        return await next_handler(request)


def _sync(request: Any, next_handler: Any) -> Any:
    return next_handler(request)


async def _one_arg(request: Any) -> Any:
    return None


@pytest.mark.parametrize(("middleware", "message"), [
    (_sync, "middlewares[1] _sync: expected an async function (request, next_handler)"),
    (_one_arg, "middlewares[1] _one_arg: must take two arguments (request, next_handler)"),
    ("not callable", "middlewares[1] str: expected an async function"),
])
def test_a_middleware_that_cannot_be_called_fails_at_build(middleware: Any, message: str) -> None:
    builder = ProxyBuilder().with_middleware(_ok).with_middleware(middleware)
    with pytest.raises(ConfigError, match=re.escape(message)):
        builder.build()
    assert ProxyBuilder().with_middleware(_Instance()).with_middleware(_ok).build() is not None


# --- every documented method has an effect --------------------------------------------------------------

def _base() -> ProxyBuilder:
    return ProxyBuilder().add_openai_compatible_provider("p", base_url="http://up.test/v1", api_key="k", models=["m"])


def _keys() -> ProxyBuilder:
    return _base().enable_api_key_auth()


Check = Callable[[Settings, ProxyBuilder], bool]


def _added(name: str, kind: str) -> Check:
    return lambda s, _: s.providers[name].kind == kind and served(s) == {f: [name] for f in ENDPOINTS}


EFFECTS: dict[str, tuple[Callable[[], ProxyBuilder], Callable[[ProxyBuilder], Any], Check]] = {
    "port": (_base, lambda b: b.port(9001), lambda s, _: s.server.port == 9001),
    "host": (_base, lambda b: b.host("0.0.0.0"), lambda s, _: s.server.host == "0.0.0.0"),
    "environment": (_base, lambda b: b.environment("production"), lambda s, _: s.server.environment == "production"),
    "log_level": (_base, lambda b: b.log_level("debug"), lambda s, _: s.server.log_level == "debug"),
    "default_model": (_base, lambda b: b.default_model("p:m"), lambda s, _: s.server.default_model == "p:m"),
    "with_cors": (_base, lambda b: b.with_cors("https://a.example", max_age_s=60),
                  lambda s, _: s.server.cors.allow_origins == ["https://a.example"] and s.server.cors.max_age_s == 60),
    "with_timeout": (_base, lambda b: b.with_timeout(5),
                     lambda s, _: s.providers["p"].timeout_ms == 5000 and s.fallback.timeout_ms == 5000),
    "add_provider": (_base, lambda b: b.add_provider("q", ProviderSettings(kind="anthropic", api_key="k"),
                                                     endpoints=["messages"]),
                     lambda s, _: s.providers["q"].kind == "anthropic" and served(s)["messages"] == ["p", "q"]
                     and served(s)["chat_completions"] == ["p"]),
    "add_openai_compatible_provider": (ProxyBuilder, lambda b: b.add_openai_compatible_provider("o", api_key="k"),
                                       _added("o", "openai")),
    "add_anthropic_compatible_provider": (ProxyBuilder, lambda b: b.add_anthropic_compatible_provider("a", api_key="k"),
                                          _added("a", "anthropic")),
    "add_gemini_compatible_provider": (ProxyBuilder, lambda b: b.add_gemini_compatible_provider("g", api_key="k"),
                                       _added("g", "gemini")),
    "enable_endpoint": (ProxyBuilder, lambda b: b.enable_endpoint("messages"), lambda s, _: "messages" in served(s)),
    "disable_endpoint": (_base, lambda b: b.disable_endpoint("gemini"), lambda s, _: "gemini" not in served(s)),
    "with_model_router": (_base, lambda b: b.with_model_router(cost_bias=0.2),
                          lambda s, _: s.model_router.cost_bias == 0.2),
    "with_fallback": (_base, lambda b: b.with_fallback(mode="race"), lambda s, _: s.fallback.mode == "race"),
    "with_prompt_cache": (_base, lambda b: b.with_prompt_cache(PromptCacheSettings(ttl_s=5)),
                          lambda s, _: s.prompt_cache.enabled and s.prompt_cache.ttl_s == 5),
    "with_redis": (_base, lambda b: b.with_redis("redis://r:6379/1"), lambda s, _: s.redis.url == "redis://r:6379/1"),
    "with_database": (_base, lambda b: b.with_database("sqlite:///g.db"), lambda s, _: s.database.url == "sqlite:///g.db"),
    "enable_api_key_auth": (_base, lambda b: b.enable_api_key_auth(admin_token="t"),
                            lambda s, _: s.auth.api_keys and s.auth.admin_token == "t"),
    "enable_credits": (_keys, lambda b: b.enable_credits(), lambda s, _: s.credits.enabled),
    "with_stripe": (_base, lambda b: b.with_stripe("sk_test", "whsec"),
                    lambda s, _: (s.stripe.secret_key, s.stripe.webhook_secret) == ("sk_test", "whsec")),
    "with_rate_limit": (_keys, lambda b: b.with_rate_limit(2, "second"),
                        lambda s, _: s.rate_limit.requests_per_minute == 120),
    "with_middleware": (_base, lambda b: b.with_middleware(_ok), lambda _, b: b.middlewares == (_ok,)),
    "with_setting": (_base, lambda b: b.with_setting("usage.enabled", False), lambda s, _: s.usage.enabled is False),
}
NOT_CONFIGURATION = {"build", "build_settings", "to_dict", "copy", "from_yaml", "from_settings", "middlewares"}


def documented_methods() -> list[str]:
    text = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    table = text.split("## What each builder method sets", 1)[1].split("\n\n", 2)[1]
    return re.findall(r"^\| `(\w+)\(", table, flags=re.MULTILINE)


def test_the_documented_methods_are_the_builders_methods_and_each_is_tested() -> None:
    public = {name for name in vars(ProxyBuilder) if not name.startswith("_")} - NOT_CONFIGURATION
    documented = documented_methods()
    assert len(documented) == len(set(documented))
    assert set(documented) == public
    assert set(EFFECTS) == public


@pytest.mark.parametrize("method", sorted(EFFECTS))
def test_each_documented_method_has_an_observable_effect(method: str) -> None:
    start, apply, check = EFFECTS[method]
    before = start()
    try:
        assert not check(before.build_settings(), before)
    except KeyError:  # e.g. the provider the method adds is not there yet
        pass
    after = start()
    assert apply(after) is after  # fluent
    assert check(after.build_settings(), after)


def test_proxy_starting_points(tmp_path: Path) -> None:
    builder = _base().port(9100)
    assert Proxy.from_builder(builder).settings == builder.build_settings()
    path = tmp_path / "g.yaml"
    path.write_text("server: {port: 9200}\nproviders: {p: {kind: gemini, api_key: '${G_KEY:-none}'}}\n")
    proxy = Proxy.from_yaml(path)
    assert proxy.settings == load_settings(path, env_files=[])
    assert proxy.settings.server.port == 9200 and not proxy.started


def test_run_serves_one_process_and_says_how_to_get_more() -> None:
    proxy = _base().with_setting("server.workers", 4).build()  # fine for mounting: the host decides
    with pytest.raises(ConfigError, match=r"server\.workers: Proxy\.run serves in this process"):
        proxy.run()
