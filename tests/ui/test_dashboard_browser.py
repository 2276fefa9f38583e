"""The dashboard end to end in headless Chromium: log in, watch SDK traffic arrive, manage a key
that the openai SDK then uses (and is refused once revoked), steer the playground, watch a
breaker open, and take desktop and phone screenshots. Any console error fails the test."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from playwright.sync_api import expect

from tests.ui.conftest import ADMIN_TOKEN, PHONE, login, screenshot

pytestmark = pytest.mark.e2e


def sdk(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, timeout=10)


def create_key(page: Any, base: str, name: str, org: str) -> str:
    page.goto(f"{base}/ui/keys")
    page.fill("#key-name", name)
    page.fill("#key-org", org)
    page.click("#create-key button[type=submit]")
    key = page.text_content("#new-key")
    assert key and key.startswith("apk_")
    return key


def test_login_rejects_a_wrong_token_then_accepts_the_admin_token(open_page, dashboard_url: str) -> None:
    page = open_page()
    page.goto(f"{dashboard_url}/ui/providers")
    assert page.url.endswith("/ui/login")
    page.fill("#token", "not-the-token")
    page.click("#login-form button[type=submit]")
    assert "Wrong admin token" in page.text_content("main")
    login(page, dashboard_url)
    assert page.url == f"{dashboard_url}/ui"
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies["ap_session"]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    assert ADMIN_TOKEN not in session["value"]


def test_a_key_created_in_the_ui_works_with_the_sdk_until_revoked(open_page, dashboard_url: str) -> None:
    page = open_page()
    login(page, dashboard_url)
    key = create_key(page, dashboard_url, "browser-key", "acme")
    screenshot(page, "keys-desktop")
    page.reload()  # resubmits the form: no second key, and the first is not shown again
    assert page.query_selector("#new-key") is None
    assert "already submitted" in page.text_content("main")
    assert page.locator("#keys tr", has_text="browser-key").count() == 1
    client = sdk(dashboard_url, key)
    reply = client.chat.completions.create(model="cheap:gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content
    row = page.locator("#keys tr", has_text="browser-key")
    row.locator("button", has_text="Revoke").click()
    page.wait_for_selector("text=Key browser-key revoked.")
    assert "revoked" in page.locator("#keys tr", has_text="browser-key").text_content()
    with pytest.raises(openai.AuthenticationError) as refused:
        client.chat.completions.create(model="cheap:gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert refused.value.status_code == 401


def test_credit_adjustment_needs_a_reason_and_moves_the_balance(open_page, dashboard_url: str) -> None:
    page = open_page()
    login(page, dashboard_url)
    create_key(page, dashboard_url, "billing-key", "globex")
    page.click("a[href='/ui/orgs/globex']")
    assert page.text_content("#balance") == "$0.0000"
    page.fill("#adjust input[name=amount]", "12.50")
    page.fill("#adjust input[name=reason]", "goodwill after outage")
    page.click("#adjust button[type=submit]")
    page.wait_for_selector("text=Credits adjusted.")
    assert page.text_content("#balance") == "$12.5000"
    assert "goodwill after outage" in page.text_content("#transactions")


def test_the_playground_slider_changes_the_choice(open_page, dashboard_url: str) -> None:
    page = open_page()
    login(page, dashboard_url)
    page.goto(f"{dashboard_url}/ui/playground")
    choices = {}
    for bias in ("0", "1"):
        page.fill("#cost-bias", bias)
        page.wait_for_selector(f"#playground[data-bias='{bias}']")
        choices[bias] = page.text_content("#choice")
        assert page.text_content("#difficulty") not in ("…", "—")
    assert choices == {"0": "cheap:gpt-4o-mini", "1": "premium:gpt-4o"}
    assert page.locator("#alternatives li").count() >= 1
    screenshot(page, "playground-desktop")


def test_sdk_traffic_appears_on_the_overview(open_page, dashboard_url: str) -> None:
    page = open_page()
    login(page, dashboard_url)
    key = create_key(page, dashboard_url, "traffic-key", "acme")
    page.goto(f"{dashboard_url}/ui")
    before = int(page.text_content("#stat-requests") or "0")
    client = sdk(dashboard_url, key)
    prompts = ["hello", "Prove that the square root of 2 is irrational, step by step.", "thanks!",
               "Design a lock-free multi-producer queue in C++ and argue its linearizability."]
    for i, prompt in enumerate(prompts):
        client.chat.completions.create(model="cheap:gpt-4o-mini" if i % 2 else "premium:gpt-4o",
                                       messages=[{"role": "user", "content": prompt}])
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": prompt}])
    # The overview refreshes itself every 2 s; no reload.
    expect(page.locator("#stat-requests")).to_have_text(str(before + 8), timeout=10_000)
    models = page.text_content("#share-models")
    assert "cheap:gpt-4o-mini" in models and "premium:gpt-4o" in models
    sources = page.text_content("#share-sources")
    assert "manual" in sources and "router" in sources
    assert page.locator("#bars-share-models .bar-row").count() >= 2
    assert page.text_content("#stat-cost") != "$0.0000"
    assert page.locator("svg.spark[data-metric=requests] polyline").count() == 1
    screenshot(page, "overview-desktop")
    phone = open_page(PHONE)
    login(phone, dashboard_url)
    # On a phone the cards stack and nothing overflows the viewport horizontally.
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(phone, "overview-phone")


def test_a_failing_upstream_opens_its_breaker(open_page, dashboard_url: str) -> None:
    page = open_page()
    login(page, dashboard_url)
    key = create_key(page, dashboard_url, "breaker-key", "acme")
    page.goto(f"{dashboard_url}/ui/providers")
    assert page.text_content("#breaker-flaky") == "closed"
    assert page.locator("#transitions").count() == 0  # nothing has tripped yet
    assert "disabled in config" in page.text_content("#providers")
    client = sdk(dashboard_url, key)
    for _ in range(2):  # failure_threshold: 2
        with pytest.raises(openai.APIStatusError):
            client.chat.completions.create(model="flaky:flaky-1", messages=[{"role": "user", "content": "hi"}])
    page.reload()
    assert page.text_content("#breaker-flaky") == "open"
    assert page.text_content("#breaker-cheap") == "closed"
    rows = [[cell.strip() for cell in row.split("\t")]
            for row in page.locator("#transitions tbody tr").all_inner_texts()]
    assert [row[1:] for row in rows] == [["flaky", "closed → open", "2"]]  # the recent transitions
    screenshot(page, "providers-desktop")
    phone = open_page(PHONE)
    login(phone, dashboard_url)
    phone.goto(f"{dashboard_url}/ui/providers")
    screenshot(phone, "providers-phone")
