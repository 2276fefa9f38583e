"""Typed domain errors. Each carries a `kind`; every API family maps kinds to its own error shape."""

from __future__ import annotations

from typing import Literal

from domain.chat import Family

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
    "overloaded",  # 529 (Anthropic's "overloaded"; 503 in the families that have no 529)
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
    "overloaded": 529,
}

# Upstream statuses the client gets as they are, because SDKs retry on them by type: 503
# (unavailable) and Anthropic's 529 (overloaded). Any other upstream failure is a 502.
_KEPT_UPSTREAM_KIND: dict[int, ErrorKind] = {503: "unavailable", 529: "overloaded"}


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


class LedgerOverloaded(ServiceUnavailable):
    """The usage ledger cannot keep up: its writer's in-memory backlog is over the configured
    bound while the store is answering. The request is refused before anything is served."""

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message, code="ledger_overloaded")
        self.retry_after = retry_after


class UpstreamError(ProxyError):
    """A provider call failed. `retryable` says whether another try (or candidate) may succeed.
    Its kind is `upstream` (502), except for the statuses kept as they are (503, 529)."""

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
    def kind(self) -> ErrorKind:  # type: ignore[override]
        return _KEPT_UPSTREAM_KIND.get(self.status or 0, "upstream")

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


def describe(exc: BaseException) -> tuple[ErrorKind, str, str | None, str | None]:
    """(kind, client-safe message, param, code) for any exception, as every frontend reports it."""
    if isinstance(exc, UpstreamError) and exc.status == 429:
        # Every candidate was rate limited: tell the client to back off, as the provider did.
        return "rate_limited", exc.message, None, exc.code
    if isinstance(exc, ProxyError):
        return exc.kind, exc.message, exc.param, exc.code
    return "internal", "internal error", None, None


def status_of(exc: BaseException) -> tuple[int, str]:
    """The HTTP status and client-safe message an exception is answered with."""
    kind, message, _, _ = describe(exc)
    return STATUS[kind], message


def is_refusal(exc: BaseException) -> bool:
    """Bad input the gateway refused itself, before any upstream call: such a request is not
    recorded (no usage row, no credit transaction)."""
    return isinstance(exc, InvalidRequest | PayloadTooLarge | NotFound) and not isinstance(exc, UpstreamError)


def status_for(family: Family, kind: ErrorKind) -> int:
    """The HTTP status of `kind` in `family`: STATUS, except that only Anthropic has 529."""
    if kind == "overloaded" and family != "anthropic":
        return STATUS["unavailable"]
    return STATUS[kind]
