"""Which API families a builder serves, and through which providers.

A family is served when a provider serves it or when it is enabled explicitly. A provider added
with `endpoints=[...]` serves exactly those families (and any family whose list names it); one
added without serves every family that is not restricted to a list of providers. A YAML file's
`endpoints` section counts as explicit.
"""

from __future__ import annotations

from typing import Any

from adapters.config import ConfigError
from application.settings import ENDPOINTS, Settings

_DEFAULT = {"enabled": True, "providers": []}


class EndpointPlan:
    def __init__(self) -> None:
        self.flags: dict[str, bool] = {}  # enable_endpoint / disable_endpoint / the YAML's `enabled`
        self.lists: dict[str, list[str]] = {}  # a family restricted to these providers
        self.served_by: dict[str, list[str]] = {}  # a provider added for these families only
        self.left_out: set[str] = set()  # families a YAML `endpoints` section did not name

    @classmethod
    def from_settings(cls, settings: Settings) -> EndpointPlan:
        plan = cls()
        if "endpoints" not in settings.model_fields_set:
            plan.flags = {family: True for family in ENDPOINTS}  # the YAML default: every family
            return plan
        for family in ENDPOINTS:
            endpoint = settings.endpoints.get(family)
            if endpoint is None:  # a section that leaves a family out does not serve it
                plan.flags[family] = False
                plan.left_out.add(family)
                continue
            plan.flags[family] = endpoint.enabled
            if endpoint.providers:
                plan.lists[family] = list(endpoint.providers)
        return plan

    def copy(self) -> EndpointPlan:
        plan = EndpointPlan()
        plan.flags = dict(self.flags)
        plan.lists = {k: list(v) for k, v in self.lists.items()}
        plan.served_by = {k: list(v) for k, v in self.served_by.items()}
        plan.left_out = set(self.left_out)
        return plan

    def serves(self, provider: str, family: str) -> bool:
        listed = self.lists.get(family)
        if listed is not None and provider in listed:  # named by the family: the most specific
            return True
        asked = self.served_by.get(provider)
        if asked is not None:
            return family in asked
        return listed is None

    def section(self, providers: list[str]) -> dict[str, Any] | None:
        """The `endpoints` settings; None when they are the defaults (every family, every provider)."""
        named = {f for asked in self.served_by.values() for f in asked} | set(self.flags) | set(self.lists)
        families = [*ENDPOINTS, *sorted(named - set(ENDPOINTS))]  # unknown names fail validation by name
        section: dict[str, Any] = {}
        for family in families:
            members = [p for p in providers if self.serves(p, family)]
            unknown = [p for p in self.lists.get(family, []) if p not in providers]
            enabled = self.flags.get(family, bool(members))
            if enabled and providers and not members and not unknown:
                raise ConfigError(f"endpoints.{family}: enabled, but every provider was added for other endpoints")
            if not enabled and family in self.left_out:
                continue
            listed = [] if members == providers and not unknown else [*members, *unknown]
            section[family] = {"enabled": enabled, "providers": listed}
        if list(section) == list(ENDPOINTS) and all(v == _DEFAULT for v in section.values()):
            return None
        return section
