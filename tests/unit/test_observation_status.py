"""A request's record carries the status and error kind its client was answered with."""

from __future__ import annotations

from application.observation import error_status
from domain.errors import InvalidRequest, UpstreamError


def test_the_record_status_matches_the_answer() -> None:
    assert error_status(UpstreamError("every candidate was rate limited", status=429)) == (429, "rate_limited")
    assert error_status(UpstreamError("upstream broke", status=500)) == (502, "upstream")
    assert error_status(InvalidRequest("bad")) == (400, "invalid_request")
    assert error_status(RuntimeError("boom")) == (500, "internal")
