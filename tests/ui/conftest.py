"""The dashboard in a real browser: Debian's Chromium driven by Playwright, against a real gateway
subprocess (the e2e `start_gateway` fixture) whose providers are the fake upstream.

Chromium comes from `apt-get install chromium` (`.ci/run` installs it; Playwright's own browser
download is not used). Without it the browser tests skip — or fail under
ADAPTIVE_PROXY_REQUIRE_SERVICES=1. Screenshots go to var/screenshots/ (gitignored).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import fake, fake_upstream, fake_upstream_server, free_port, start_gateway

__all__ = ["fake", "fake_upstream", "fake_upstream_server", "start_gateway"]

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ADMIN_TOKEN = "dashboard-admin-token"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
REQUIRE = os.environ.get("ADAPTIVE_PROXY_REQUIRE_SERVICES") == "1"


def dashboard_config(upstream_url: str, dead_url: str) -> dict[str, Any]:
    """Three OpenAI-kind providers: cheap and premium on the fake upstream, flaky on a dead port."""

    def provider(url: str, model: str, price_in: float, price_out: float, quality: float) -> dict[str, Any]:
        return {"kind": "openai", "base_url": f"{url}/v1", "api_key": "test-key", "timeout_ms": 5_000,
                "models": {model: {"input_per_mtok": price_in, "output_per_mtok": price_out, "quality": quality}}}

    return {
        "server": {"log_level": "warning"},
        "auth": {"api_keys": True, "admin_token": ADMIN_TOKEN},
        "fallback": {"max_retries": 0, "breaker": {"failure_threshold": 2, "open_timeout_ms": 600_000}},
        "model_router": {"cache": {"enabled": False}},
        "providers": {
            "cheap": provider(upstream_url, "gpt-4o-mini", 0.15, 0.6, 0.55),
            "premium": provider(upstream_url, "gpt-4o", 5.0, 15.0, 0.95),
            "flaky": provider(dead_url, "flaky-1", 1.0, 3.0, 0.6),
            "spare": {"kind": "anthropic", "enabled": False},
        },
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped on purpose: while Playwright's sync API is open it keeps an event loop
    running in this thread, and every async test after it would fail to start its own."""
    if not Path(CHROMIUM).exists():
        message = f"no Chromium at {CHROMIUM}: apt-get install -y chromium chromium-driver"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def dashboard_url(start_gateway: Callable[[dict[str, Any]], str], fake_upstream: str) -> str:
    return start_gateway(dashboard_config(fake_upstream, f"http://127.0.0.1:{free_port()}"))


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """`open_page(viewport=DESKTOP)`: a fresh browser context's page. Console errors and uncaught
    exceptions are collected; a test that leaves any fails."""
    contexts: list[Any] = []
    errors: list[str] = []

    def open_(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
        page.on("dialog", lambda d: d.accept())
        return page

    yield open_
    for context in contexts:
        context.close()
    assert errors == [], errors


def login(page: Any, base: str, token: str = ADMIN_TOKEN) -> None:
    page.goto(f"{base}/ui")
    page.fill("#token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("header nav")


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
