"""HTML building blocks for the dashboard pages: the layout, escaping, tables, forms.

Every value that reaches a page goes through `esc`. No inline script or style attribute is ever
written (the Content-Security-Policy forbids them); numbers for charts travel in `data-*`
attributes and JSON `<script type="application/json">` blocks, which are data, not code.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Sequence
from html import escape
from typing import Any

import orjson
from blacksheep import Content, Response

from entrypoints.http.ui.session import secured

NAV = [("/ui", "Overview"), ("/ui/providers", "Providers"), ("/ui/keys", "Keys"),
       ("/ui/playground", "Playground"), ("/ui/cache", "Cache")]

ACTIVE = ' class="active" aria-current="page"'


def esc(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def data_block(element_id: str, payload: Any) -> str:
    """JSON for the page's script. `<` is escaped so the payload can never close the tag."""
    text = orjson.dumps(payload).decode().replace("<", "\\u003c")
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def csrf_field(csrf: str) -> str:
    return f'<input type="hidden" name="csrf" value="{esc(csrf)}">'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], table_id: str = "", raw: bool = False) -> str:
    """A table; cells are escaped unless `raw` (then the caller built them from escaped parts)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f'<div class="scroll"><table{ident}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def card(label: str, value: Any, card_id: str, hint: str = "", hint_id: str = "") -> str:
    ident = f' id="{esc(hint_id)}"' if hint_id else ""
    extra = f'<div class="hint"{ident}>{esc(hint)}</div>' if hint else ""
    return (f'<div class="card"><div class="label">{esc(label)}</div>'
            f'<div class="value" id="{esc(card_id)}">{esc(value)}</div>{extra}</div>')


def flash(message: str | None, kind: str = "ok") -> str:
    return f'<p class="flash {esc(kind)}" role="status">{esc(message)}</p>' if message else ""


def html_response(text: str, status: int = 200) -> Response:
    return secured(Response(status, None, Content(b"text/html; charset=utf-8", text.encode())))


def page(title: str, body: str, *, active: str = "", csrf: str = "", status: int = 200) -> Response:
    nav = "".join(f'<a href="{href}"{ACTIVE if href == active else ""}>{esc(label)}</a>' for href, label in NAV)
    logout = (f'<form method="post" action="/ui/logout" class="logout">{csrf_field(csrf)}'
              '<button type="submit">Log out</button></form>') if csrf else ""
    header = f'<header><span class="brand">AdaptiveProxy</span><nav>{nav}</nav>{logout}</header>' if csrf else ""
    meta = f'<meta name="csrf-token" content="{esc(csrf)}">' if csrf else ""
    return html_response(
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'{meta}<title>{esc(title)} · AdaptiveProxy</title>'
        '<link rel="icon" href="data:,">'
        '<link rel="stylesheet" href="/ui/static/app.css"></head>'
        f'<body>{header}<main><h1>{esc(title)}</h1>{body}</main>'
        '<script src="/ui/static/app.js"></script></body></html>', status)


def redirect(location: str, set_cookies: list[bytes] | None = None) -> Response:
    response = Response(303, [(b"location", location.encode())])
    for value in set_cookies or []:
        response.headers.add(b"set-cookie", value)
    return secured(response)


def json_error(status: int, message: str) -> Response:
    return secured(Response(status, None, Content(b"application/json", orjson.dumps({"error": {"message": message}}))))


def handler(method: Callable[..., Awaitable[Response]]) -> Callable[..., Awaitable[Response]]:
    """A plain function for a bound method (BlackSheep marks its handlers, which a method refuses);
    `functools.wraps` keeps the method's signature and annotations for BlackSheep's binding."""

    @functools.wraps(method)
    async def route(*args: Any, **kwargs: Any) -> Response:
        return await method(*args, **kwargs)

    return route
