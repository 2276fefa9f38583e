"""What the admin dashboard and the `/admin/stats/*` endpoints read: traffic, providers, caches.

One read model shared by the JSON endpoints and the server-rendered pages, so both always show
the same numbers. Everything here is read-only and off the request path.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.breaker_history import TransitionLog
from application.settings import Settings
from application.shared_traffic import SharedTraffic
from application.traffic_stats import TrafficStats
from domain.breaker import BreakerPolicy, breaker_key
from domain.catalog import Catalog
from domain.errors import NotFound
from domain.ports import BreakerStore, Clock, KeyedCache

HOUR = 60
DAY = 24 * 60


def provider_state(settings: Settings, name: str) -> tuple[bool, str | None]:
    provider = settings.providers[name]
    if provider.active:
        return True, None
    return False, "disabled in config" if not provider.enabled else "no api key configured"


@dataclass(slots=True)
class DashboardReads:
    settings: Settings
    traffic_stats: TrafficStats
    breakers: BreakerStore
    breaker_policy: BreakerPolicy
    catalog: Catalog
    clock: Clock
    response_cache: KeyedCache[Any] | None = None
    route_cache: KeyedCache[Any] | None = None
    breaker_history: TransitionLog | None = None
    shared_traffic: SharedTraffic | None = None  # with Redis: every instance's traffic added up

    async def traffic(self, minutes: int = HOUR) -> dict[str, Any]:
        if self.shared_traffic is not None:
            return await self.shared_traffic.window(minutes)
        return {**self.traffic_stats.window(minutes), "scope": "instance"}

    async def providers(self) -> dict[str, Any]:
        """Each provider: enabled or why not, its breakers (effective state), recent traffic, models."""
        snapshots = await self.breakers.snapshots()
        # snapshots() lists the breakers this instance has used; one opened by another instance
        # (a shared store) is read too, so that every instance's page shows it.
        per_model = self.settings.fallback.breaker.per_model
        for name in self.settings.providers:
            for key in sorted({breaker_key(name, m.model, per_model) for m in self.catalog.for_provider(name)}):
                if key not in snapshots:
                    snap = await self.breakers.snapshot(key)
                    if snap.state != "closed" or snap.failures:
                        snapshots[key] = snap
        now = self.clock.now()
        history = await self.breaker_history.recent() if self.breaker_history is not None else []
        traffic = (await self.traffic(HOUR))["providers"]
        out = []
        for name, provider in self.settings.providers.items():
            enabled, reason = provider_state(self.settings, name)
            breakers = []
            for key, snap in sorted(snapshots.items()):
                if key != name and not key.startswith(f"{name}:"):
                    continue
                state = snap.state
                if state == "open" and now - snap.changed_at >= self.breaker_policy.open_timeout_s:
                    state = "half_open"  # the next call is let through as a probe
                breakers.append({"key": key, "state": state, "stored_state": snap.state,
                                 "failures": snap.failures, "changed_at": snap.changed_at})
            transitions = [t.as_dict() for t in history if t.key == name or t.key.startswith(f"{name}:")]
            models = [
                {"model": m.model, "input_per_mtok": m.input_per_mtok, "output_per_mtok": m.output_per_mtok,
                 "cache_read_per_mtok": m.cache_read_per_mtok, "context_window": m.context_window,
                 "quality": m.quality_prior(), "supports_tools": m.supports_tools,
                 "supports_vision": m.supports_vision}
                for m in self.catalog.for_provider(name)]
            out.append({"name": name, "kind": provider.kind, "enabled": enabled, "reason": reason,
                        "base_url": provider.base_url, "breaker": _worst(breakers), "breakers": breakers,
                        "transitions": transitions,
                        "traffic_1h": traffic.get(name), "models": models})
        return {"breaker_store": self.breakers.status(), "providers": out}

    async def caches(self) -> dict[str, Any]:
        """Entries per cache and, over the last hour: the response cache's outcomes (`cache_tier`)
        and the routing cache's hit rate (requests whose model choice came from the cache)."""
        window = await self.traffic(HOUR)
        tiers = window["cache_tiers"]
        total = sum(tiers.values())

        async def describe(name: str, enabled: bool, cache: KeyedCache[Any] | None) -> dict[str, Any]:
            entries = await cache.size() if cache is not None and enabled else 0
            status = cache.status() if cache is not None else {}
            return {"name": name, "enabled": enabled, "entries": entries, **status}

        response = await describe("response", self.settings.prompt_cache.enabled, self.response_cache)
        routing = await describe("routing", self.settings.model_router.cache.enabled, self.route_cache)
        looked_up = sum(n for tier, n in tiers.items() if tier != "none")
        hits = sum(n for tier, n in tiers.items() if tier not in ("none", "miss"))
        response["hit_rate_1h"] = round(hits / looked_up, 4) if looked_up else None
        routed = sum(n for source, n in window["selection_sources"].items() if source in ("router", "cache"))
        routing["hit_rate_1h"] = round(window["selection_sources"].get("cache", 0) / routed, 4) if routed else None
        return {"caches": [response, routing], "tiers_1h": tiers,
                "hit_rates_1h": {tier: round(count / total, 4) for tier, count in tiers.items() if tier != "none"}
                if total else {}}


    async def clear_cache(self, name: str) -> int:
        """Empty the `response` or `routing` cache; returns the entries removed."""
        cache = {"response": self.response_cache, "routing": self.route_cache}.get(name)
        if name not in ("response", "routing"):
            raise NotFound(f"no cache named {name!r}: response or routing")
        return await cache.clear() if cache is not None else 0


def _worst(breakers: list[dict[str, Any]]) -> str:
    states = {b["state"] for b in breakers}
    for state in ("open", "half_open"):
        if state in states:
            return state
    return "closed"
