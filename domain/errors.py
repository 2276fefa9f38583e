"""Typed domain errors. Each carries a `kind`; every API family maps kinds to its own error shape."""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "invalid_request",  # 400
    "authentication",  # 401
    "payment_required",  # 402
    "permission",  # 403
    "not_found",  # 404
    "payload_too_large",  # 413
    "rate_limited",  # 429
    "internal",  # 500
    "upstream",  # 502
    "unavailable",  # 503
    "timeout",  # 504
]

# The HTTP status each kind is answered with, in every API family.
STATUS: dict[ErrorKind, int] = {
    "invalid_request": 400,
    "authentication": 401,
    "payment_required": 402,
    "permission": 403,
    "not_found": 404,
    "payload_too_large": 413,
    "rate_limited": 429,
    "internal": 500,
    "upstream": 502,
    "unavailable": 503,
    "timeout": 504,
}


class ProxyError(Exception):
    kind: ErrorKind = "internal"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


class InvalidRequest(ProxyError):
    kind: ErrorKind = "invalid_request"


class NoCapableModel(InvalidRequest):
    """No candidate model satisfies the request's hard constraints (tools, vision, context)."""


class AuthenticationFailed(ProxyError):
    kind: ErrorKind = "authentication"


class PaymentRequired(ProxyError):
    kind: ErrorKind = "payment_required"


class PermissionDenied(ProxyError):
    kind: ErrorKind = "permission"


class NotFound(ProxyError):
    kind: ErrorKind = "not_found"


class PayloadTooLarge(ProxyError):
    kind: ErrorKind = "payload_too_large"


class RateLimited(ProxyError):
    kind: ErrorKind = "rate_limited"

    def __init__(self, message: str, *, retry_after: float = 1.0, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ServiceUnavailable(ProxyError):
    kind: ErrorKind = "unavailable"


class CircuitOpen(ServiceUnavailable):
    """Every candidate's circuit breaker is open: nothing was tried. `retry_after` is the time
    until the first of them lets a probe through."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message, code="circuit_open")
        self.retry_after = retry_after


class UpstreamError(ProxyError):
    """A provider call failed. `retryable` says whether another try (or candidate) may succeed."""

    kind: ErrorKind = "upstream"

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.provider = provider
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after

    @property
    def counts_against_provider(self) -> bool:
        """Failures that say the provider is unhealthy (not the request's own fault)."""
        return self.retryable


class UpstreamTimeout(UpstreamError):
    kind: ErrorKind = "timeout"


class UpstreamUnreachable(UpstreamError):
    """The connection could not be made or was dropped."""


class UpstreamRejected(UpstreamError):
    """The provider refused the request itself (a 4xx other than 408/429): not retryable."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message, provider=provider, status=status, retryable=False, code=code)

    @property
    def kind(self) -> ErrorKind:  # type: ignore[override]
        return _REJECTED_KIND.get(self.status or 400, "invalid_request")


_REJECTED_KIND: dict[int, ErrorKind] = {
    400: "invalid_request",
    401: "upstream",  # our key for the provider is wrong: the gateway's fault, not the client's
    403: "upstream",
    404: "invalid_request",
    413: "payload_too_large",
    422: "invalid_request",
}


class InvalidSignature(InvalidRequest):
    """A webhook whose signature is missing, malformed, stale or wrong."""


class ProviderRateLimited(UpstreamError):
    """The gateway's own per-provider limit refused the call: another candidate may serve it,
    the provider is healthy, and with no candidate left the client gets 429 + Retry-After."""

    kind: ErrorKind = "rate_limited"

    def __init__(self, message: str, *, provider: str = "", retry_after: float = 1.0) -> None:
        super().__init__(message, provider=provider, status=429, retryable=True, retry_after=retry_after,
                         code="rate_limit_exceeded")

    @property
    def counts_against_provider(self) -> bool:
        return False
