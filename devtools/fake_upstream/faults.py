"""Server state (scripted/default faults, counters) and fault resolution."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from devtools.fake_upstream.replies import Directives, ToolPlan, directive_int


@dataclass(slots=True)
class Fault:
    """What to do wrong for one request; all fields optional and combinable."""

    status: int | None = None
    message: str | None = None
    retry_after: str | None = None
    latency_ms: int = 0
    cut_after: int | None = None
    drop: bool = False
    chunk_delay_ms: int = 0

    @property
    def active(self) -> bool:
        """True if this fault changes anything about the reply."""
        return bool(self.status or self.latency_ms or self.drop or self.chunk_delay_ms or self.cut_after is not None)


NO_FAULT = Fault()


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def resolve_fault(base: dict[str, Any] | None, directives: Directives) -> Fault:
    """Merge a scripted/default fault dict with in-prompt directives (directives win)."""
    if not base and not directives:
        return NO_FAULT
    spec: dict[str, Any] = dict(base or {})
    for key in ("status", "latency_ms", "cut_after", "chunk_delay_ms", "retry_after"):
        value = directive_int(directives, key)
        if value is not None:
            spec[key] = value
    if "drop" in directives:
        spec["drop"] = True
    if directives.get("message"):
        spec["message"] = directives["message"]
    retry_after = spec.get("retry_after")
    return Fault(
        status=_int(spec.get("status")),
        message=str(spec["message"]) if spec.get("message") else None,
        retry_after=None if retry_after is None else str(retry_after),
        latency_ms=max(0, _int(spec.get("latency_ms")) or 0),
        cut_after=_int(spec.get("cut_after")),
        drop=bool(spec.get("drop")),
        chunk_delay_ms=max(0, _int(spec.get("chunk_delay_ms")) or 0),
    )


@dataclass
class FakeState:
    """Mutable state of one fake server: fault queue, default fault and counters."""

    script: deque[dict[str, Any]] = field(default_factory=deque)
    default_fault: dict[str, Any] | None = None
    requests: int = 0
    by_path: dict[str, int] = field(default_factory=dict)
    last_request: dict[str, Any] | None = None
    reply_counter: int = 0
    tool_plan: ToolPlan | None = None

    def reset(self) -> None:
        """Clear faults, the tool plan, counters and the last request."""
        self.script.clear()
        self.tool_plan = None
        self.default_fault = None
        self.requests = 0
        self.by_path = {}
        self.last_request = None
        self.reply_counter = 0

    def take_fault(self) -> dict[str, Any] | None:
        """The next scripted fault if any, else the default fault (may be None)."""
        if self.script:
            return self.script.popleft()
        return self.default_fault

    def record(self, path: str, headers: list[tuple[bytes, bytes]], body: Any) -> None:
        """Count a request and remember it as the last one."""
        self.requests += 1
        self.by_path[path] = self.by_path.get(path, 0) + 1
        seen: dict[str, str] = {}
        for raw_name, raw_value in headers:
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            seen[name] = f"{seen[name]}, {value}" if name in seen else value
        self.last_request = {"path": path, "headers": seen, "body": body}

    def next_id(self) -> int:
        """A fresh counter value for response ids."""
        self.reply_counter += 1
        return self.reply_counter

    def stats(self) -> dict[str, Any]:
        """The body of ``GET /_fake/stats``."""
        return {
            "requests": self.requests,
            "by_path": dict(self.by_path),
            "last_request": self.last_request,
            "queued_faults": len(self.script),
            "default_fault": self.default_fault,
            "tool_plan": None if self.tool_plan is None else {
                "call": self.tool_plan.call_name, "answer": self.tool_plan.answer},
        }
