"""Dashboard sessions: an opaque signed cookie, CSRF tokens bound to it, and the security headers.

The operator logs in once with `auth.admin_token`; the cookie then carries
`<expires>.<nonce>.<mac>`, never the token. The MAC key is derived from the admin token, so
every worker of the deployment accepts the same session and changing the token logs everyone
out. A state-changing request must carry the session's CSRF token (a form field or the
`x-csrf-token` header) and come from this site (`Sec-Fetch-Site`, else `Origin`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from blacksheep import Request, Response

from application.clock import SYSTEM_CLOCK
from domain.ports import Clock

SESSION_COOKIE = "ap_session"
LOGIN_COOKIE = "ap_login"  # double-submit nonce for the login form (there is no session yet)
CSRF_HEADER = b"x-csrf-token"

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


@dataclass(frozen=True, slots=True)
class Session:
    nonce: str
    expires: int
    csrf: str


class UiSessions:
    def __init__(self, admin_token: str, ttl_s: int, clock: Clock = SYSTEM_CLOCK) -> None:
        if not admin_token:
            raise ValueError("the dashboard needs auth.admin_token")
        self._token = admin_token.encode()
        self._key = hmac.new(self._token, b"adaptive-proxy dashboard session v1", hashlib.sha256).digest()
        self._ttl_s = ttl_s
        self._clock = clock

    @property
    def ttl_s(self) -> int:
        return self._ttl_s

    def _mac(self, message: str) -> str:
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def token_matches(self, presented: str) -> bool:
        return hmac.compare_digest(presented.encode(), self._token)

    def issue(self) -> tuple[str, Session]:
        expires = int(self._clock.now()) + self._ttl_s
        nonce = secrets.token_urlsafe(18)
        body = f"{expires}.{nonce}"
        return f"{body}.{self._mac(body)}", self._session(nonce, expires)

    def _session(self, nonce: str, expires: int) -> Session:
        return Session(nonce, expires, self._mac(f"csrf.{nonce}"))

    def read(self, request: Request) -> Session | None:
        value = request.cookies.get(SESSION_COOKIE)
        if not value or value.count(".") != 2:
            return None
        expires_text, nonce, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac(f"{expires_text}.{nonce}")):
            return None
        if not expires_text.isdigit() or int(expires_text) <= self._clock.now():
            return None
        return self._session(nonce, int(expires_text))

    @staticmethod
    def csrf_ok(request: Request, session: Session, presented: str | None) -> bool:
        if presented is None:
            header = request.get_first_header(CSRF_HEADER)
            presented = header.decode("latin-1") if header else ""
        return same_origin(request) and hmac.compare_digest(presented.encode(), session.csrf.encode())


class LoginThrottle:
    """Wrong admin tokens per client address: after `max_failures` within `window_s`, further
    attempts from that address are refused until the window has passed (bounded, per process)."""

    def __init__(self, max_failures: int = 5, window_s: float = 60.0, clock: Clock = SYSTEM_CLOCK,
                 max_clients: int = 10_000) -> None:
        self._max = max_failures
        self._window_s = window_s
        self._clock = clock
        self._max_clients = max_clients
        self._failures: dict[str, list[float]] = {}

    def _recent(self, client: str) -> list[float]:
        cutoff = self._clock.monotonic() - self._window_s
        recent = [t for t in self._failures.get(client, []) if t > cutoff]
        if recent:
            self._failures[client] = recent
        else:
            self._failures.pop(client, None)
        return recent

    def blocked(self, client: str) -> bool:
        return len(self._recent(client)) >= self._max

    def failed(self, client: str) -> None:
        if client not in self._failures and len(self._failures) >= self._max_clients:
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(client, []).append(self._clock.monotonic())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)


def same_origin(request: Request) -> bool:
    """No cross-site POST: `Sec-Fetch-Site` (sent by current browsers) must say same-origin; without
    it, an `Origin` header, when present, must name this host."""
    site = request.get_first_header(b"sec-fetch-site")
    if site is not None:
        return site in (b"same-origin", b"none")
    origin = request.get_first_header(b"origin")
    if origin is None or origin == b"null":
        return True
    host = request.get_first_header(b"host") or b""
    return origin.split(b"://", 1)[-1] == host


def cookie(request: Request, name: str, value: str, max_age: int) -> bytes:
    secure = "; Secure" if request.scheme == "https" else ""
    return f"{name}={value}; Path=/ui; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}".encode()


def secured(response: Response, cacheable: bool = False) -> Response:
    for name, value in SECURITY_HEADERS:
        response.headers.add(name, value)
    if not cacheable:
        response.headers.add(b"cache-control", b"no-store")
    return response
