"""The real clock (defined once, in application/clock.py)."""

from __future__ import annotations

from application.clock import SystemClock

__all__ = ["SystemClock"]
