"""What `/health` reports: each configured component and whether the service can serve."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from application.settings import Settings
from domain.ports import BreakerStore

# A probe returns extra details when the component is up and raises when it is down.
Probe = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class HealthService:
    settings: Settings
    # name -> probe, for components that were configured (Redis, database, ...).
    probes: dict[str, Probe] = field(default_factory=dict)
    # name -> details of components that are always local (embedded stores), reported as up.
    embedded: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Extra report sections (e.g. breakers), each computed on demand.
    sections: dict[str, Callable[[], Awaitable[dict[str, Any]]]] = field(default_factory=dict)

    async def report(self) -> tuple[bool, dict[str, Any]]:
        components: dict[str, Any] = {}
        healthy = True
        for name, details in self.embedded.items():
            components[name] = {"status": "up", **details}
        for name, probe in self.probes.items():
            try:
                components[name] = {"status": "up", **await probe()}
            except Exception as exc:  # a probe may fail in any way; health reports, never raises
                healthy = False
                components[name] = {"status": "down", "error": type(exc).__name__}
        components["providers"] = {
            name: {"status": "enabled" if p.active else "disabled", "kind": p.kind,
                   **({} if p.active else {"reason": "disabled in config" if not p.enabled else "no api key"})}
            for name, p in self.settings.providers.items()
        }
        report: dict[str, Any] = {"status": "ok" if healthy else "down", "components": components}
        for name, section in self.sections.items():
            report[name] = await section()
        return healthy, report


def breaker_section(store: BreakerStore) -> Callable[[], Awaitable[dict[str, Any]]]:
    """The breakers' store mode (shared or degraded to local) and every known breaker's state."""

    async def section() -> dict[str, Any]:
        states = await store.snapshots()
        return {**store.status(), "states": {key: snap.as_dict() for key, snap in sorted(states.items())}}

    return section
