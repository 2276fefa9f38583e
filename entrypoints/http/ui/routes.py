"""The dashboard's routes: login, the pages, their JSON data and the static assets.

Registered only when the dashboard is on (`Settings.dashboard_enabled`). Each page reads the
application layer directly (the same read model as `/admin/stats/*`); a page without a valid
session redirects to the login form, a data or state-changing request without one gets 401/403.
"""

from __future__ import annotations

import secrets
from importlib import resources
from typing import Any

from blacksheep import Content, Request, Response
from blacksheep.server.routing import Router

from application.dashboard import DAY, HOUR, DashboardReads
from application.model_selection import ModelQuery, ModelSelectionService
from application.settings import Settings
from domain.errors import STATUS, InvalidRequest, ProxyError, describe
from entrypoints.http.io import json_response, read_json
from entrypoints.http.schemas.select_model import decision_body
from entrypoints.http.ui import keys_pages
from entrypoints.http.ui.html import card, csrf_field, flash, handler, json_error, page, redirect, table
from entrypoints.http.ui.session import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginThrottle,
    Session,
    UiSessions,
    cookie,
    same_origin,
    secured,
)
from entrypoints.http.ui.views import cache_body, overview_body, providers_body

STATIC_TYPES = {"app.css": b"text/css; charset=utf-8", "app.js": b"text/javascript; charset=utf-8"}
STATIC = {name: (resources.files("entrypoints.http.ui") / "static" / name).read_bytes() for name in STATIC_TYPES}


class Dashboard:
    def __init__(self, sessions: UiSessions, throttle: LoginThrottle | None = None) -> None:
        self.sessions = sessions
        self.throttle = throttle or LoginThrottle()

    # --- sessions -----------------------------------------------------------------------
    async def login_form(self, request: Request) -> Response:
        if self.sessions.read(request) is not None:
            return redirect("/ui")
        nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(18)
        error = request.query.get("error")
        body = (flash("Wrong admin token." if error else None, "error") +
                '<form method="post" action="/ui/login" class="login" id="login-form">'
                f'{csrf_field(nonce)}<label>Admin token <input type="password" name="token" id="token" '
                'autocomplete="current-password" required autofocus></label>'
                '<button type="submit">Log in</button></form>')
        response = page("Log in", body)
        response.headers.add(b"set-cookie", cookie(request, LOGIN_COOKIE, nonce, 600))
        return response

    async def login(self, request: Request) -> Response:
        form = await request.form() or {}
        nonce = request.cookies.get(LOGIN_COOKIE) or ""
        presented_nonce, token = _field(form, "csrf"), _field(form, "token")
        if not nonce or presented_nonce != nonce or not same_origin(request):
            return json_error(403, "login form expired or sent from another site; reload /ui/login")
        client = request.client_ip or ""
        if self.throttle.blocked(client):
            return json_error(429, "too many wrong admin tokens from this address; try again in a minute")
        if not self.sessions.token_matches(token):
            self.throttle.failed(client)
            return redirect("/ui/login?error=1")
        self.throttle.succeeded(client)
        value, _ = self.sessions.issue()
        return redirect("/ui", [cookie(request, SESSION_COOKIE, value, self.sessions.ttl_s),
                                cookie(request, LOGIN_COOKIE, "", 0)])

    async def logout(self, request: Request) -> Response:
        checked = await self.checked_form(request)
        if isinstance(checked, Response):
            return checked
        return redirect("/ui/login", [cookie(request, SESSION_COOKIE, "", 0)])

    async def checked_form(self, request: Request) -> tuple[Session, dict[str, Any]] | Response:
        """A state-changing form post: a valid session and its CSRF token, or 401/403."""
        session = self.sessions.read(request)
        if session is None:
            return json_error(401, "not logged in")
        form = await request.form() or {}
        if not self.sessions.csrf_ok(request, session, _field(form, "csrf")):
            return json_error(403, "missing or wrong CSRF token")
        return session, form

    # --- pages --------------------------------------------------------------------------
    async def overview(self, request: Request, reads: DashboardReads) -> Response:
        session = self.sessions.read(request)
        if session is None:
            return redirect("/ui/login")
        minutes = DAY if request.query.get("window") == ["24h"] else HOUR
        return page("Overview", overview_body(await reads.traffic(minutes), minutes), active="/ui", csrf=session.csrf)

    async def providers(self, request: Request, reads: DashboardReads) -> Response:
        session = self.sessions.read(request)
        if session is None:
            return redirect("/ui/login")
        return page("Providers", providers_body(await reads.providers()), active="/ui/providers",
                    csrf=session.csrf)

    async def cache(self, request: Request, reads: DashboardReads) -> Response:
        session = self.sessions.read(request)
        if session is None:
            return redirect("/ui/login")
        return page("Cache", cache_body(await reads.caches(), session.csrf), active="/ui/cache", csrf=session.csrf)

    async def clear_cache(self, request: Request, reads: DashboardReads) -> Response:
        checked = await self.checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        name = _field(form, "cache")
        try:
            removed = await reads.clear_cache(name)
            notice = flash(f"Cleared the {name} cache: {removed} entries removed.")
        except ProxyError as exc:
            notice = flash(str(exc), "error")
        except Exception as exc:  # e.g. Redis unreachable: say so, the page still renders
            notice = flash(f"Could not clear the {name} cache: {type(exc).__name__}", "error")
        return page("Cache", notice + cache_body(await reads.caches(), session.csrf), active="/ui/cache",
                    csrf=session.csrf)

    async def playground(self, request: Request, reads: DashboardReads, settings: Settings) -> Response:
        session = self.sessions.read(request)
        if session is None:
            return redirect("/ui/login")
        models = [m for m in reads.catalog if m.provider in settings.active_providers()]
        rows = [(f"{m.provider}:{m.model}", m.input_per_mtok, m.output_per_mtok, m.quality_prior()) for m in models]
        bias = settings.model_router.cost_bias
        body = (
            '<form id="playground" class="playground">'
            '<label>Prompt <textarea id="prompt" name="prompt" rows="5" required>'
            'Prove that there are infinitely many primes.</textarea></label>'
            f'<label>cost_bias <output id="bias-value">{bias:.2f}</output>'
            f'<input type="range" id="cost-bias" name="cost_bias" min="0" max="1" step="0.05" value="{bias}">'
            '</label><p class="hint">0 = cheapest, 1 = best quality</p></form>'
            '<section class="result" aria-live="polite"><h2>Router choice</h2>'
            '<div class="cards">' + card("Chosen model", "…", "choice") + card("Difficulty", "…", "difficulty")
            + card("Source", "…", "source") + '</div><h3>Alternatives</h3><ol id="alternatives"></ol>'
            '<p class="error" id="playground-error" hidden></p></section>'
            '<h2>Candidates</h2>' + table(["model", "$ in / Mtok", "$ out / Mtok", "quality prior"], rows))
        return page("Routing playground", body, active="/ui/playground", csrf=session.csrf)

    # --- data for the pages' scripts ----------------------------------------------------
    async def traffic_data(self, request: Request, reads: DashboardReads) -> Response:
        if self.sessions.read(request) is None:
            return json_error(401, "not logged in")
        minutes = DAY if request.query.get("window") == ["24h"] else HOUR
        return secured(json_response(await reads.traffic(minutes)))

    async def select_model(self, request: Request, reads: DashboardReads, settings: Settings,
                           selection: ModelSelectionService) -> Response:
        session = self.sessions.read(request)
        if session is None:
            return json_error(401, "not logged in")
        if not self.sessions.csrf_ok(request, session, None):
            return json_error(403, "missing or wrong CSRF token")
        try:
            body = await read_json(request, 64 * 1024)
            prompt, bias = body.get("prompt"), body.get("cost_bias")
            if not isinstance(prompt, str) or not prompt.strip():
                raise InvalidRequest("prompt must be a non-empty string", param="prompt")
            if isinstance(bias, bool) or not isinstance(bias, int | float) or not 0 <= bias <= 1:
                raise InvalidRequest("cost_bias must be a number from 0 to 1", param="cost_bias")
            models = [m for m in reads.catalog if m.provider in settings.active_providers()]
            routed = await selection.select(ModelQuery(models, prompt, float(bias), needs_tools=False))
        except ProxyError as exc:
            kind, message, _, _ = describe(exc)
            return json_error(STATUS[kind], message)
        return secured(json_response(decision_body(routed)))

    async def static(self, name: str) -> Response:
        if name not in STATIC:
            return secured(Response(404, None, Content(b"text/plain", b"not found")))
        content = Content(STATIC_TYPES[name], STATIC[name])
        response = Response(200, [(b"cache-control", b"public, max-age=300")], content)
        return secured(response, cacheable=True)


def _field(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value if isinstance(value, str) else ""


def register(router: Router, settings: Settings) -> None:
    ui = Dashboard(UiSessions(settings.auth.admin_token, settings.dashboard.session_ttl_s))
    router.add_get("/ui", handler(ui.overview))
    router.add_get("/ui/login", handler(ui.login_form))
    router.add_post("/ui/login", handler(ui.login))
    router.add_post("/ui/logout", handler(ui.logout))
    router.add_get("/ui/providers", handler(ui.providers))
    router.add_get("/ui/cache", handler(ui.cache))
    router.add_post("/ui/cache/clear", handler(ui.clear_cache))
    router.add_get("/ui/playground", handler(ui.playground))
    router.add_get("/ui/data/traffic", handler(ui.traffic_data))
    router.add_post("/ui/data/select-model", handler(ui.select_model))
    router.add_get("/ui/static/{name}", handler(ui.static))
    if settings.auth.api_keys:
        keys_pages.register(router, ui)

