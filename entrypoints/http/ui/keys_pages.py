"""Keys and organizations (when `auth.api_keys` is on): list, create (shown once), revoke, edit
limits and budgets, usage per key and per organization, credit balance, transactions and a
manual credit adjustment with a required reason. Every action goes through `KeyService` and
`BillingService`, the same use cases as the admin API; a rejected input re-renders the page
with the use case's message (status 400), never a 500.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from blacksheep import Request, Response
from blacksheep.server.routing import Router

from application.billing import BillingService
from application.keys import KeyService
from domain.errors import NotFound, ProxyError
from domain.keys import ApiKey
from entrypoints.http.ui.html import csrf_field, esc, flash, handler, page, redirect, table
from entrypoints.http.ui.views import money

if TYPE_CHECKING:
    from entrypoints.http.ui.routes import Dashboard

PERIODS = ("", "daily", "weekly", "monthly")


def _text(form: dict[str, Any], name: str) -> str:
    value = form.get(name)
    if isinstance(value, list):
        value = value[0] if value else ""
    return value.strip() if isinstance(value, str) else ""


def limits_from(form: dict[str, Any]) -> dict[str, Any]:
    """The limit fields of a form: empty means none; the use case validates the values."""
    rpm = _text(form, "rate_limit_rpm")
    return {"rate_limit_rpm": int(rpm) if rpm.isdigit() else (rpm or None),
            "budget_limit": _text(form, "budget_limit") or None,
            "budget_period": _text(form, "budget_period") or None}


def _limit_inputs(key: ApiKey | None = None) -> str:
    rpm = "" if key is None or key.rate_limit_rpm is None else key.rate_limit_rpm
    budget = "" if key is None or key.budget_limit is None else key.budget_limit
    current = "" if key is None else key.budget_period or ""
    options = "".join(f'<option value="{p}"{" selected" if p == current else ""}>{p or "no period"}</option>'
                      for p in PERIODS)
    return (f'<label>Requests / min <input name="rate_limit_rpm" inputmode="numeric" value="{esc(rpm)}"></label>'
            f'<label>Budget ($) <input name="budget_limit" inputmode="decimal" value="{esc(budget)}"></label>'
            f'<label>Budget period <select name="budget_period">{options}</select></label>')


class KeyPages:
    def __init__(self, ui: Dashboard) -> None:
        self.ui = ui
        # One-time form ids of submitted "create key" forms: a resubmitted form (reload, double
        # click) creates no second key. Bounded; per process.
        self._submitted: OrderedDict[str, None] = OrderedDict()

    def _first_submission(self, form_id: str) -> bool:
        if not form_id or form_id in self._submitted:
            return False
        self._submitted[form_id] = None
        if len(self._submitted) > 10_000:
            self._submitted.popitem(last=False)
        return True

    async def _keys_page(self, csrf: str, keys: KeyService, billing: BillingService, notice: str = "",
                         status: int = 200) -> Response:
        found = await keys.list(None, True, 500, 0)
        rows = []
        now = datetime.now(UTC)
        for k in found:
            state = k.state(now)
            revoke = ("" if state == "revoked" else
                      f'<form method="post" action="/ui/keys/{k.id}/revoke" class="inline">{csrf_field(csrf)}'
                      f'<button type="submit" class="danger" data-confirm="Revoke {esc(k.name)}?" '
                      f'id="revoke-{k.id}">Revoke</button></form>')
            budget = "—" if k.budget_limit is None else f"{money(k.budget_spent(now))} / {money(k.budget_limit)}"
            rows.append([f'<a href="/ui/keys/{k.id}">{esc(k.name)}</a>', f"<code>{esc(k.key_prefix)}…</code>",
                         esc(k.organization_id or "—"), f'<span class="pill state-{esc(state)}">{esc(state)}</span>',
                         esc(k.rate_limit_rpm or "—"), esc(budget), revoke])
        orgs = sorted({k.organization_id for k in found if k.organization_id})
        org_links = ", ".join(f'<a href="/ui/orgs/{esc(o)}">{esc(o)}</a>' for o in orgs) or "none yet"
        body = (notice
                + '<section><h2>New key</h2><form method="post" action="/ui/keys" class="grid" id="create-key">'
                f'{csrf_field(csrf)}<input type="hidden" name="form_id" value="{secrets.token_hex(12)}">'
                '<label>Name <input name="name" id="key-name" required maxlength="255"></label>'
                '<label>Organization <input name="organization_id" id="key-org" maxlength="255"></label>'
                f'{_limit_inputs()}<button type="submit">Create key</button></form></section>'
                + "<h2>Keys</h2>" + table(["name", "prefix", "organization", "state", "rpm", "budget", ""], rows,
                                          "keys", raw=True)
                + f"<h2>Organizations</h2><p>{org_links}</p>")
        return page("Keys and organizations", body, active="/ui/keys", csrf=csrf, status=status)

    async def list_keys(self, request: Request, keys: KeyService, billing: BillingService) -> Response:
        session = self.ui.sessions.read(request)
        if session is None:
            return _to_login()
        return await self._keys_page(session.csrf, keys, billing)

    async def create_key(self, request: Request, keys: KeyService, billing: BillingService) -> Response:
        checked = await self.ui.checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, form = checked
        if not self._first_submission(_text(form, "form_id")):
            notice = flash("This form was already submitted: its key was shown once and is not shown again.", "error")
            return await self._keys_page(session.csrf, keys, billing, notice)
        try:
            issued = await keys.issue(_text(form, "name"), organization_id=_text(form, "organization_id") or None,
                                      **limits_from(form))
        except ProxyError as exc:
            return await self._keys_page(session.csrf, keys, billing, flash(str(exc), "error"), 400)
        notice = ('<div class="flash ok" role="status"><p>Key created. Copy it now: it is shown only once.</p>'
                  f'<code id="new-key" class="secret">{esc(issued.plaintext)}</code></div>')
        return await self._keys_page(session.csrf, keys, billing, notice, 201)

    async def revoke_key(self, key_id: str, request: Request, keys: KeyService, billing: BillingService) -> Response:
        checked = await self.ui.checked_form(request)
        if isinstance(checked, Response):
            return checked
        session, _ = checked
        try:
            key = await keys.revoke(_key_id(key_id))
        except ProxyError as exc:
            return await self._keys_page(session.csrf, keys, billing, flash(str(exc), "error"), 404)
        return await self._keys_page(session.csrf, keys, billing, flash(f"Key {key.name} revoked."))

    async def key_detail(self, key_id: str, request: Request, keys: KeyService, billing: BillingService) -> Response:
        return await self._detail(key_id, request, keys, billing)

    async def _detail(self, key_id: str, request: Request, keys: KeyService, billing: BillingService,
                      notice: str = "", status: int = 200) -> Response:
        session = self.ui.sessions.read(request)
        if session is None:
            return _to_login()
        try:
            key = await keys.get(_key_id(key_id))
        except ProxyError as exc:
            return page("Key", flash(str(exc), "error"), active="/ui/keys", csrf=session.csrf, status=404)
        stats = await billing.stats_for_key(key.id)
        usage = await billing.usage_for_key(key.id, 20, 0)
        by_model = [(f"{m.provider}:{m.model}", m.requests, m.errors, m.input_tokens, m.output_tokens, money(m.cost))
                    for m in stats.by_model]
        recent = [(u.created_at.strftime("%Y-%m-%d %H:%M:%S") if u.created_at else "", u.endpoint,
                   f"{u.provider}:{u.model}", u.status_code, u.input_tokens + u.output_tokens, money(u.cost))
                  for u in usage]
        body = (notice + f'<p>Prefix <code>{esc(key.key_prefix)}…</code> · organization '
                f'{esc(key.organization_id or "—")} · {esc(stats.requests)} requests, {esc(stats.errors)} errors, '
                f'{money(stats.cost)} spent</p>'
                f'<h2>Limits and budget</h2><form method="post" action="/ui/keys/{key.id}/edit" class="grid" '
                f'id="edit-key">{csrf_field(session.csrf)}{_limit_inputs(key)}'
                '<button type="submit">Save</button></form>'
                + "<h2>Usage by model</h2>" + table(["model", "requests", "errors", "in", "out", "cost"], by_model)
                + "<h2>Recent requests</h2>" + table(["time (UTC)", "endpoint", "model", "status", "tokens", "cost"],
                                                     recent, "usage"))
        return page(f"Key {key.name}", body, active="/ui/keys", csrf=session.csrf, status=status)

    async def edit_key(self, key_id: str, request: Request, keys: KeyService, billing: BillingService) -> Response:
        checked = await self.ui.checked_form(request)
        if isinstance(checked, Response):
            return checked
        _, form = checked
        try:
            key = await keys.update(_key_id(key_id), limits_from(form))
        except ProxyError as exc:
            return await self._detail(key_id, request, keys, billing, flash(str(exc), "error"), 400)
        return await self._detail(str(key.id), request, keys, billing, flash("Limits saved."))

    async def organization(self, organization_id: str, request: Request, keys: KeyService,
                           billing: BillingService) -> Response:
        return await self._organization(organization_id, request, keys, billing)

    async def _organization(self, organization_id: str, request: Request, keys: KeyService, billing: BillingService,
                            notice: str = "", status: int = 200) -> Response:
        session = self.ui.sessions.read(request)
        if session is None:
            return _to_login()
        balance = await billing.balance(organization_id)
        transactions = await billing.transactions(organization_id, 50, 0)
        members = await keys.list(organization_id, True, 500, 0)
        spent, requests = Decimal(0), 0
        for key in members:
            stats = await billing.stats_for_key(key.id)
            spent, requests = spent + stats.cost, requests + stats.requests
        rows = [(t.created_at.strftime("%Y-%m-%d %H:%M:%S") if t.created_at else "", t.type, money(t.amount),
                 money(t.balance_after), t.description) for t in transactions]
        body = (notice + '<div class="cards">'
                f'<div class="card"><div class="label">Balance</div><div class="value" id="balance">'
                f'{money(balance.balance)}</div></div>'
                f'<div class="card"><div class="label">Usage ({len(members)} keys)</div><div class="value">'
                f'{requests} req · {money(spent)}</div></div></div>'
                f'<h2>Adjust credits</h2><form method="post" action="/ui/orgs/{esc(organization_id)}/adjust" '
                f'class="grid" id="adjust">{csrf_field(session.csrf)}'
                f'<input type="hidden" name="idempotency_key" value="ui-{secrets.token_hex(12)}">'
                '<label>Amount ($) <input name="amount" inputmode="decimal" required></label>'
                '<label>Type <select name="type"><option>promotional</option><option>refund</option></select></label>'
                '<label>Reason <input name="reason" required minlength="3" maxlength="500"></label>'
                '<button type="submit">Apply</button></form>'
                + "<h2>Transactions</h2>" + table(["time (UTC)", "type", "amount", "balance after", "description"],
                                                 rows, "transactions"))
        return page(f"Organization {organization_id}", body, active="/ui/keys", csrf=session.csrf, status=status)

    async def adjust(self, organization_id: str, request: Request, keys: KeyService,
                     billing: BillingService) -> Response:
        checked = await self.ui.checked_form(request)
        if isinstance(checked, Response):
            return checked
        _, form = checked
        reason = _text(form, "reason")
        try:
            if len(reason) < 3:
                raise _Invalid("a reason of at least 3 characters is required for a manual adjustment")
            _, applied = await billing.adjust(organization_id, _text(form, "amount"), _text(form, "type"),
                                              reason, {"source": "dashboard"},
                                              _text(form, "idempotency_key") or None)
        except (ProxyError, _Invalid) as exc:
            return await self._organization(organization_id, request, keys, billing, flash(str(exc), "error"), 400)
        message = "Credits adjusted." if applied else "Already applied (this form was submitted before)."
        return await self._organization(organization_id, request, keys, billing, flash(message))


class _Invalid(ValueError):
    pass


def _key_id(value: str) -> int:
    if not value.isdigit() or len(value) > 18:
        raise NotFound(f"no API key with id {value!r}")
    return int(value)


def _to_login() -> Response:
    return redirect("/ui/login")


def register(router: Router, ui: Dashboard) -> None:
    pages = KeyPages(ui)
    router.add_get("/ui/keys", handler(pages.list_keys))
    router.add_post("/ui/keys", handler(pages.create_key))
    router.add_get("/ui/keys/{key_id}", handler(pages.key_detail))
    router.add_post("/ui/keys/{key_id}/revoke", handler(pages.revoke_key))
    router.add_post("/ui/keys/{key_id}/edit", handler(pages.edit_key))
    router.add_get("/ui/orgs/{organization_id}", handler(pages.organization))
    router.add_post("/ui/orgs/{organization_id}/adjust", handler(pages.adjust))
