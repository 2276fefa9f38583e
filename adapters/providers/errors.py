"""SDK exceptions -> typed domain errors. Messages never carry keys or request headers: upstream
text passes through adapters.redaction (the provider's own key, every configured secret and
anything that looks like a credential) before it becomes an error message."""

from __future__ import annotations

from collections.abc import Iterable

import httpx2

from adapters.providers.transport import ResponseTooLarge
from adapters.redaction import redact
from domain.errors import UpstreamError, UpstreamRejected, UpstreamTimeout, UpstreamUnreachable

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529})


def retry_after_seconds(headers: httpx2.Headers | None) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            return None
    value = headers.get("retry-after")
    if value:
        try:
            return float(value)
        except ValueError:
            return None
    return None


def from_status(status: int, message: str, provider: str, retry_after: float | None = None,
                code: str | None = None, secrets: Iterable[str] = ()) -> UpstreamError:
    """An HTTP error status from a provider -> the domain error that decides retry and blame.
    The upstream's message is redacted (`secrets`: the calling provider's own credentials)."""
    text = redact(f"{provider} returned {status}: {message}"[:2000], secrets)
    if status in RETRYABLE_STATUSES or status >= 500:
        return UpstreamError(text, provider=provider, status=status, retry_after=retry_after, code=code)
    return UpstreamRejected(text, provider=provider, status=status, code=code)


def translate_transport_error(exc: Exception, provider: str) -> UpstreamError:
    """A failure below HTTP (no status to judge by): a timeout, or a connection that failed."""
    if isinstance(exc, ResponseTooLarge):  # not a network fault: the same call would fail again
        return UpstreamError(f"{provider} sent a response too large to accept: {exc}", provider=provider,
                             retryable=False)
    if isinstance(exc, httpx2.TimeoutException):
        return UpstreamTimeout(f"{provider} timed out", provider=provider)
    if isinstance(exc, httpx2.TransportError):
        return UpstreamUnreachable(f"{provider} could not be reached: {type(exc).__name__}", provider=provider)
    return UpstreamError(f"{provider} failed: {type(exc).__name__}", provider=provider)
