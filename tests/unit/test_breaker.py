from __future__ import annotations

from domain.breaker import CLOSED, BreakerPolicy, admit, is_open, record_failure, record_success

POLICY = BreakerPolicy(failure_threshold=3, success_threshold=2, open_timeout_s=10, half_open_max_probes=1)


def _fail(snap, times, now=0.0):
    for _ in range(times):
        snap = record_failure(snap, POLICY, now)
    return snap


def test_opens_after_consecutive_failures_only() -> None:
    snap = _fail(CLOSED, 2)
    snap = record_success(snap, POLICY, 0)  # a success resets the count
    snap = _fail(snap, 2)
    assert snap.state == "closed" and snap.failures == 2
    snap = _fail(snap, 1, now=5)
    assert snap.state == "open" and snap.changed_at == 5


def test_open_rejects_until_timeout_then_admits_bounded_probes() -> None:
    snap = _fail(CLOSED, 3, now=100)
    allowed, snap = admit(snap, POLICY, 105)
    assert not allowed and is_open(snap, POLICY, 105)
    allowed, snap = admit(snap, POLICY, 110)
    assert allowed and snap.state == "half_open" and snap.probes == 1
    allowed, snap = admit(snap, POLICY, 110.5)
    assert not allowed  # only one probe at a time


def test_half_open_closes_after_successes_and_reopens_on_failure() -> None:
    snap = _fail(CLOSED, 3, now=0)
    _, snap = admit(snap, POLICY, 10)
    snap = record_success(snap, POLICY, 11)
    assert snap.state == "half_open" and snap.successes == 1 and snap.probes == 0
    _, snap = admit(snap, POLICY, 11)
    snap = record_success(snap, POLICY, 12)
    assert snap.state == "closed" and snap.failures == 0

    snap = _fail(CLOSED, 3, now=0)
    _, snap = admit(snap, POLICY, 10)
    snap = record_failure(snap, POLICY, 11)
    assert snap.state == "open" and snap.changed_at == 11
    assert not admit(snap, POLICY, 15)[0]


def test_a_vanished_probe_does_not_keep_the_breaker_stuck() -> None:
    snap = _fail(CLOSED, 3, now=0)
    _, snap = admit(snap, POLICY, 10)  # the probe's caller crashes and never reports
    assert not admit(snap, POLICY, 15)[0]
    allowed, snap = admit(snap, POLICY, 20.5)
    assert allowed and snap.probes == 1


def test_late_results_while_open_change_nothing() -> None:
    snap = _fail(CLOSED, 3, now=0)
    assert record_success(snap, POLICY, 1) == snap
    assert record_failure(snap, POLICY, 1) == snap
