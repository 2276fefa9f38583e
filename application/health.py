"""What `/health` reports: each configured component and whether the service can serve."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from application.settings import Settings
from domain.ports import BreakerStore, Clock

# A probe returns extra details when the component is up and raises when it is down.
Probe = Callable[[], Awaitable[dict[str, Any]]]
# A section is one more report part; one that says `"degraded": True` makes the service degraded.
Section = Callable[[], Awaitable[dict[str, Any]]]
Status = Literal["healthy", "degraded", "unhealthy"]


@dataclass(slots=True)
class HealthService:
    """`status` is `unhealthy` (503) when a configured component does not answer its probe,
    `degraded` (200) when every probe answers but some part serves from a fallback (breakers or
    rate limits on local state, API keys from the cache's grace), else `healthy`."""

    settings: Settings
    # name -> probe, for components that were configured (Redis, database, ...).
    probes: dict[str, Probe] = field(default_factory=dict)
    # name -> details of components that are always local (embedded stores), reported as up.
    embedded: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Extra report sections (e.g. breakers), each computed on demand.
    sections: dict[str, Section] = field(default_factory=dict)
    clock: Clock | None = None

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
        parts = {name: await section() for name, section in self.sections.items()}
        degraded = any(part.get("degraded") for part in (*components.values(), *parts.values()))
        status: Status = "unhealthy" if not healthy else "degraded" if degraded else "healthy"
        report: dict[str, Any] = {"status": status, "timestamp": self._timestamp(), "components": components,
                                  **parts}
        return healthy, report

    def _timestamp(self) -> str:
        moment = datetime.fromtimestamp(self.clock.now(), UTC) if self.clock else datetime.now(UTC)
        return moment.isoformat().replace("+00:00", "Z")


def breaker_section(store: BreakerStore) -> Section:
    """The breakers' store mode (shared or degraded to local) and every known breaker's state."""

    async def section() -> dict[str, Any]:
        states = await store.snapshots()
        return {**store.status(), "states": {key: snap.as_dict() for key, snap in sorted(states.items())}}

    return section


def status_section(status: Callable[[], dict[str, Any]]) -> Section:
    """A section from a synchronous status call (e.g. the API-key cache's)."""

    async def section() -> dict[str, Any]:
        return status()

    return section
