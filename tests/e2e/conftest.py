"""Shared end-to-end fixtures: the fake upstream in a thread, gateways as real uvicorn subprocesses.

- `fake_upstream` (session): base URL `http://127.0.0.1:P` of one fake upstream for the run.
- `fake` (function): a handle on that fake, reset before the test (state, control API, stats).
- `start_gateway(config) -> base_url` (session factory): writes `config` as YAML, starts
  `adaptive-proxy serve --config <tmp>.yaml --port N` and waits until it answers. The same
  config returns the already running gateway, so a whole matrix shares one server.
- At the end of the session every line every gateway logged is searched for the secrets its
  config holds (provider keys, admin token, Stripe/JWT/metrics secrets): none may appear.
- `gateway_config(fake_upstream)` builds the usual three-provider config (`fake_openai`,
  `fake_anthropic`, `fake_gemini`, api_key "test-key") for tests that need nothing special.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from devtools.fake_upstream import FakeState, running_in_thread
from tests.e2e.gateway_process import (  # noqa: F401  (re-exported for the tests of this directory)
    READY_TIMEOUT_S,
    Gateway,
    _serve_command,
    free_port,
    launch,
    wait_until_ready,
)

UPSTREAM_KEY = "test-key"






@dataclass
class FakeUpstream:
    """The running fake upstream: its URL, its in-process state and its control API."""

    url: str
    state: FakeState

    def reset(self) -> None:
        self.state.reset()

    def script(self, *faults: dict[str, Any]) -> None:
        httpx.post(f"{self.url}/_fake/script", json={"faults": list(faults)}, timeout=5).raise_for_status()

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.url}/_fake/stats", timeout=5).json())

    @property
    def last_request(self) -> dict[str, Any]:
        return dict(self.stats()["last_request"] or {})


@contextlib.contextmanager
def running_fake_upstream() -> Iterator[FakeUpstream]:
    """A fake upstream served in a background thread, for as long as the block runs."""
    with running_in_thread() as (url, state):
        yield FakeUpstream(url, state)


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as upstream:
        yield upstream


@pytest.fixture(scope="session")
def fake_upstream(fake_upstream_server: FakeUpstream) -> str:
    """Base URL of the session's fake upstream (reset when first handed out)."""
    fake_upstream_server.reset()
    return fake_upstream_server.url


@pytest.fixture
def fake(fake_upstream_server: FakeUpstream) -> FakeUpstream:
    """The session's fake upstream, reset before this test."""
    fake_upstream_server.reset()
    return fake_upstream_server


def three_provider_config(upstream_url: str, **extra: Any) -> dict[str, Any]:
    """One provider of each kind, all pointed at the fake upstream."""
    model = {"input_per_mtok": 1.0, "output_per_mtok": 2.0, "supports_tools": True, "supports_vision": True}
    config: dict[str, Any] = {
        "server": {"log_level": "warning"},
        "providers": {
            "fake_openai": {"kind": "openai", "base_url": f"{upstream_url}/v1", "api_key": UPSTREAM_KEY,
                            "timeout_ms": 10_000, "models": {"gpt-4o-mini": model}},
            "fake_anthropic": {"kind": "anthropic", "base_url": upstream_url, "api_key": UPSTREAM_KEY,
                               "timeout_ms": 10_000, "models": {"claude-sonnet-4-5": model}},
            "fake_gemini": {"kind": "gemini", "base_url": upstream_url, "api_key": UPSTREAM_KEY,
                            "timeout_ms": 10_000, "models": {"gemini-2.5-flash": model}},
        },
    }
    config.update(extra)
    return config


@pytest.fixture(scope="session")
def gateway_config(fake_upstream: str) -> dict[str, Any]:
    return three_provider_config(fake_upstream)


@pytest.fixture(scope="session")
def start_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[dict[str, Any]], str]]:
    running: dict[bytes, Gateway] = {}

    def start(config: dict[str, Any]) -> str:
        key = orjson.dumps(config, option=orjson.OPT_SORT_KEYS)
        if key not in running:
            running[key] = launch(config, tmp_path_factory.mktemp("gateway"))
        return running[key].url

    yield start
    for gateway in running.values():
        gateway.process.terminate()
    for gateway in running.values():
        gateway.stop(timeout_s=10)
    leaks = [(gateway.log_path.name, line[:200]) for config_key, gateway in running.items()
             for line in gateway.log().splitlines()
             if any(secret in line for secret in configured_secrets(orjson.loads(config_key)))]
    assert leaks == [], "a configured secret appears in a gateway's log"


def configured_secrets(config: dict[str, Any]) -> list[str]:
    """The secrets an e2e config holds (as adapters.redaction.configured_secrets reads them)."""
    from adapters.config import settings_from_dict
    from adapters.redaction import configured_secrets as secrets_of

    return [s for s in secrets_of(settings_from_dict(config)) if len(s) >= 6]
