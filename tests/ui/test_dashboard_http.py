"""The dashboard's guards without a browser: off without an admin token, login, session cookie,
CSRF, same-site checks, security headers, and the `/admin/stats/*` read endpoints."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from blacksheep import Content
from blacksheep.contents import FormContent
from blacksheep.testing import TestClient

from adapters.config import settings_from_dict
from entrypoints.http.ui.session import LoginThrottle, UiSessions
from tests.clock import FrozenClock
from tests.http.conftest import gateway, slept

__all__ = ["gateway", "slept"]

TOKEN = "ui-admin-token"
MODEL = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}


def config(**auth: Any) -> dict[str, Any]:
    return {"auth": auth, "providers": {"p": {"kind": "openai", "api_key": "k", "models": {"m": MODEL}}}}


def never_called(request: httpx2.Request) -> httpx2.Response:
    raise AssertionError("no upstream call expected")


async def logged_in(client: TestClient) -> tuple[str, str]:
    """(cookie header, csrf token) of a fresh session."""
    form = await client.get("/ui/login")
    nonce = re.search(r'name="csrf" value="([^"]+)"', await form.text()).group(1)  # type: ignore[union-attr]
    response = await client.post("/ui/login", content=FormContent({"csrf": nonce, "token": TOKEN}),
                                 headers={"cookie": f"ap_login={nonce}"})
    assert response.status == 303 and response.headers.get_first(b"location") == b"/ui"
    set_cookie = [v.decode() for v in response.headers.get(b"set-cookie")]
    session = next(c for c in set_cookie if c.startswith("ap_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/ui" in session
    value = session.split(";")[0]
    assert TOKEN not in value
    page = await client.get("/ui", headers={"cookie": value})
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', await page.text()).group(1)  # type: ignore[union-attr]
    return value, csrf


async def test_the_dashboard_is_off_without_an_admin_token(gateway: Callable[..., Any]) -> None:
    client = await gateway(config(), never_called)
    assert (await client.get("/ui")).status == 404
    assert (await client.get("/ui/login")).status == 404


def test_dashboard_enabled_needs_an_admin_token() -> None:
    with pytest.raises(Exception, match="admin_token"):
        settings_from_dict({"dashboard": {"enabled": True}})


async def test_pages_need_a_session_and_carry_strict_headers(gateway: Callable[..., Any]) -> None:
    client = await gateway(config(admin_token=TOKEN), never_called)
    for path in ("/ui", "/ui/providers", "/ui/cache", "/ui/playground"):
        response = await client.get(path)
        assert response.status == 303 and response.headers.get_first(b"location") == b"/ui/login", path
    assert (await client.get("/ui/data/traffic")).status == 401
    forged = "ap_session=9999999999.abc.0000"
    assert (await client.get("/ui", headers={"cookie": forged})).status == 303
    login = await client.get("/ui/login")
    csp = login.headers.get_first(b"content-security-policy").decode()
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert login.headers.get_first(b"x-frame-options") == b"DENY"
    assert b"<script>" not in await login.read()  # the only script is /ui/static/app.js
    js = await client.get("/ui/static/app.js")
    assert js.status == 200 and js.headers.get_first(b"content-type").startswith(b"text/javascript")
    assert (await client.get("/ui/static/../app.py")).status == 404


async def test_login_needs_the_form_nonce_and_the_right_token(gateway: Callable[..., Any]) -> None:
    client = await gateway(config(admin_token=TOKEN), never_called)
    forged = await client.post("/ui/login", content=FormContent({"csrf": "x", "token": TOKEN}),
                               headers={"cookie": "ap_login=y"})
    assert forged.status == 403
    wrong = await client.post("/ui/login", content=FormContent({"csrf": "n", "token": "nope"}),
                              headers={"cookie": "ap_login=n"})
    assert wrong.status == 303 and wrong.headers.get_first(b"location") == b"/ui/login?error=1"
    cross_site = await client.post("/ui/login", content=FormContent({"csrf": "n", "token": TOKEN}),
                                   headers={"cookie": "ap_login=n", "sec-fetch-site": "cross-site"})
    assert cross_site.status == 403


async def test_state_changes_need_the_csrf_token(gateway: Callable[..., Any], tmp_path) -> None:
    cfg = {**config(admin_token=TOKEN, api_keys=True), "database": {"url": f"sqlite:///{tmp_path}/ui.db"}}
    client = await gateway(cfg, never_called)
    cookie, csrf = await logged_in(client)
    missing = await client.post("/ui/keys", content=FormContent({"name": "k"}), headers={"cookie": cookie})
    assert missing.status == 403
    wrong = await client.post("/ui/keys", content=FormContent({"name": "k", "csrf": "0" * 64}),
                              headers={"cookie": cookie})
    assert wrong.status == 403
    cross = await client.post("/ui/keys", content=FormContent({"name": "k", "csrf": csrf, "form_id": "f1"}),
                              headers={"cookie": cookie, "sec-fetch-site": "cross-site"})
    assert cross.status == 403
    created = await client.post("/ui/keys", content=FormContent({"name": "k", "csrf": csrf, "form_id": "f1"}),
                                headers={"cookie": cookie})
    created_page = await created.text()
    assert created.status == 201 and 'id="new-key"' in created_page
    key_id = re.search(r'href="/ui/keys/(\d+)"', created_page).group(1)  # type: ignore[union-attr]
    edited = await client.post(f"/ui/keys/{key_id}/edit", headers={"cookie": cookie}, content=FormContent({
        "csrf": csrf, "rate_limit_rpm": "30", "budget_limit": "7.5", "budget_period": "monthly"}))
    edited_page = await edited.text()
    assert edited.status == 200 and "Limits saved." in edited_page
    assert 'name="rate_limit_rpm" inputmode="numeric" value="30"' in edited_page
    assert '<option value="monthly" selected>' in edited_page
    bad_edit = await client.post(f"/ui/keys/{key_id}/edit", headers={"cookie": cookie},
                                 content=FormContent({"csrf": csrf, "rate_limit_rpm": "-3"}))
    assert bad_edit.status == 400 and "rate_limit_rpm" in await bad_edit.text()
    invalid = await client.post("/ui/keys", content=FormContent({"name": "k2", "csrf": csrf, "form_id": "f2",
                                                                  "budget_period": "hourly"}),
                                headers={"cookie": cookie})
    assert invalid.status == 400 and "budget_period" in await invalid.text()
    no_reason = await client.post("/ui/orgs/acme/adjust", content=FormContent({
        "csrf": csrf, "amount": "5", "type": "promotional", "reason": ""}), headers={"cookie": cookie})
    assert no_reason.status == 400 and "reason" in await no_reason.text()
    playground = await client.post("/ui/data/select-model", headers={"cookie": cookie},
                                   content=FormContent({"prompt": "x"}))
    assert playground.status == 403
    for body, message in ((b"not json", "not valid JSON"), (b'{"prompt": "hi", "cost_bias": 2}', "cost_bias"),
                          (b'{"prompt": " ", "cost_bias": 0.5}', "prompt")):
        answer = await client.post("/ui/data/select-model", content=Content(b"application/json", body),
                                   headers={"cookie": cookie, "x-csrf-token": csrf})
        assert answer.status == 400 and message in (await answer.json())["error"]["message"]
    chosen = await client.post("/ui/data/select-model", content=Content(b"application/json",
                                                                         b'{"prompt": "hi", "cost_bias": 0}'),
                               headers={"cookie": cookie, "x-csrf-token": csrf})
    assert (await chosen.json())["model"] == "m"
    logout = await client.post("/ui/logout", content=FormContent({"csrf": csrf}), headers={"cookie": cookie})
    assert logout.status == 303 and any(v.startswith(b"ap_session=;") for v in logout.headers.get(b"set-cookie"))


async def test_admin_stats_endpoints(gateway: Callable[..., Any]) -> None:
    client = await gateway(config(admin_token=TOKEN), never_called)
    assert (await client.get("/admin/stats/traffic")).status == 401
    admin = {"authorization": f"Bearer {TOKEN}"}
    traffic = await (await client.get("/admin/stats/traffic?minutes=5", headers=admin)).json()
    assert traffic["window_minutes"] == 5 and len(traffic["series"]) == 5
    bad = await client.get("/admin/stats/traffic?minutes=0", headers=admin)
    assert bad.status == 400 and (await bad.json())["error"]["param"] == "minutes"
    providers = await (await client.get("/admin/stats/providers", headers=admin)).json()
    assert providers["providers"][0]["name"] == "p" and providers["providers"][0]["breaker"] == "closed"
    assert providers["providers"][0]["models"][0]["input_per_mtok"] == 1.0
    caches = await (await client.get("/admin/stats/caches", headers=admin)).json()
    assert [c["name"] for c in caches["caches"]] == ["response", "routing"]


async def test_wrong_tokens_are_throttled(gateway: Callable[..., Any]) -> None:
    client = await gateway(config(admin_token=TOKEN), never_called)

    async def attempt(token: str) -> int:
        response = await client.post("/ui/login", content=FormContent({"csrf": "n", "token": token}),
                                     headers={"cookie": "ap_login=n"})
        return response.status

    assert [await attempt("wrong") for _ in range(5)] == [303] * 5
    assert await attempt(TOKEN) == 429  # even the right token waits out the window


def test_the_throttle_window_passes() -> None:
    clock = FrozenClock(0.0)
    throttle = LoginThrottle(max_failures=2, window_s=60, clock=clock)
    throttle.failed("a")
    throttle.failed("a")
    assert throttle.blocked("a") and not throttle.blocked("b")
    clock.t = 61.0
    assert not throttle.blocked("a")


def test_sessions_expire_and_bind_csrf_to_the_session() -> None:
    clock = FrozenClock(1000.0)
    sessions = UiSessions("tok", ttl_s=60, clock=clock)
    value, session = sessions.issue()
    other_value, other = sessions.issue()
    assert session.csrf != other.csrf and value != other_value

    class Req:
        def __init__(self, cookie: str) -> None:
            self.cookies = {"ap_session": cookie}

    assert sessions.read(Req(value)) == session  # type: ignore[arg-type]
    assert UiSessions("other-token", 60, clock).read(Req(value)) is None  # type: ignore[arg-type]
    clock.t += 61
    assert sessions.read(Req(value)) is None  # type: ignore[arg-type]



def test_the_ring_joins_the_containers_observers() -> None:
    from container import build_container
    from domain.telemetry import RequestRecord
    from entrypoints.http.app import create_app

    container = build_container(settings_from_dict(config(admin_token=TOKEN)))
    create_app(container)
    container.observers().observe(RequestRecord("r", "openai", "/v1/chat/completions", 200))
    assert container.traffic_stats().window(1)["totals"]["requests"] == 1
