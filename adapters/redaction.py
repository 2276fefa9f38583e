"""Removing secrets from text that leaves the gateway: upstream error messages, stream error
events and log records.

Two layers: the exact secrets the gateway knows (provider keys, the admin token, Stripe and JWT
secrets — registered at start-up, and each provider's own key), and patterns for anything that
looks like a credential even when nobody registered it (a `Bearer` token, `sk-…`/`AIza…`-style
keys, `api_key=…` pairs). Upstream servers and proxies often echo the request's credentials in
their error bodies (`Incorrect API key provided: authorization=Bearer sk-…`); nothing they say is
relayed or logged before passing through `redact`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping

from application.settings import Settings
from domain.errors import UpstreamError

REDACTED = "[redacted]"
_MIN_SECRET = 6  # shorter "secrets" (test values like "k") would shred ordinary words

_PATTERNS = re.compile(
    r"(?i)(?P<scheme>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{6,}"
    r"|(?P<name>\b(?:api[_-]?key|x-api-key|x-goog-api-key|authorization|key|token|secret|password)"
    r"[\"']?\s*[=:]\s*[\"']?)(?!\[redacted\])(?=[^\s\"'&,;]*\d)[^\s\"'&,;]{8,}"
    r"|\b(?:sk|rk|pk)[-_](?:live_|test_|ant-|proj-)?[A-Za-z0-9_-]{8,}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    r"|\b(?:gsk|xai|whsec|apk)[-_][A-Za-z0-9_-]{8,}"
)

_known: set[str] = set()


def register_secrets(values: Iterable[str | None]) -> None:
    """Secrets every later `redact` call removes (process-wide: configuration, not per request)."""
    _known.update(v for v in values if v and len(v) >= _MIN_SECRET)


def _pattern_replacement(match: re.Match[str]) -> str:
    prefix = match.group("scheme") or match.group("name") or ""
    return prefix + REDACTED


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every registered secret, every secret in `secrets` and every credential-looking
    token replaced by `[redacted]`."""
    for secret in (*_known, *secrets):
        if secret and len(secret) >= _MIN_SECRET and secret in text:
            text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(_pattern_replacement, text)


def redact_error(exc: UpstreamError, secrets: Iterable[str] = ()) -> UpstreamError:
    """The same error with its message redacted (in place, so type, status and retry hints stay)."""
    clean = redact(exc.message, secrets)
    if clean != exc.message:
        exc.message = clean
        exc.args = (clean, *exc.args[1:])
    return exc


class RedactingFilter(logging.Filter):
    """Redacts a record's message (arguments merged in) and its formatted traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
            record.__dict__.pop("color_message", None)  # uvicorn's coloured copy of the raw format
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_installed = False


def install_log_redaction(secrets: Iterable[str | None] = ()) -> None:
    """Register `secrets` and redact every log record this process creates from now on.

    The filter runs in the log-record factory, not on a handler: uvicorn (re)configures its own
    handlers after start-up, and a record must be clean whichever handler writes it.
    """
    global _installed
    register_secrets(secrets)
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()
    redacting = RedactingFilter()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        redacting.filter(record)
        return record

    logging.setLogRecordFactory(factory)


def configured_secrets(settings: Settings) -> list[str]:
    """Every secret a configuration holds: provider keys, admin token, Stripe and JWT secrets."""
    values = [p.api_key for p in settings.providers.values()]
    values += [settings.auth.admin_token, settings.stripe.secret_key, settings.stripe.webhook_secret,
               settings.model_router.external.jwt_secret, settings.telemetry.metrics.bearer_token]
    values += [v for p in settings.providers.values() for k, v in (p.headers or {}).items()
               if k.lower() in ("authorization", "x-api-key", "api-key", "x-goog-api-key")]
    return [v for v in values if v]


_AUTH_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization"})


def header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credentials in request headers: each auth header's value and its token after a scheme."""
    found: list[str] = []
    for name, value in headers.items():
        if name.lower() in _AUTH_HEADERS and value:
            found.append(value)
            found.append(value.rpartition(" ")[2])
    return tuple(found)
