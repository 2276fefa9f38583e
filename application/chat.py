"""Complete or stream a chat: select the model, call the provider, report what served it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass

from application.providers import ProviderRegistry
from typing import Any

from application.request_config import RequestConfig, base_config, resolve
from application.selection import Selection, Target, allowed_providers, parse_manual
from application.settings import Family, Settings
from domain.chat import ChatRequest, ChatResponse, StreamEvent
from domain.errors import InvalidRequest, UpstreamError


@dataclass(slots=True)
class ChatCall:
    """One inbound chat request, already translated to the domain."""

    request: ChatRequest
    family: Family
    config: RequestConfig
    request_id: str = ""


@dataclass(slots=True)
class ChatOutcome:
    response: ChatResponse
    target: Target
    selection: Selection


@dataclass(slots=True)
class StreamOutcome:
    """A stream whose first event has arrived: headers can name the target before any byte."""

    events: AsyncIterator[StreamEvent]
    target: Target
    selection: Selection


class ChatService:
    """The chat use case. Stateless per request; collaborators are injected."""

    def __init__(self, settings: Settings, registry: ProviderRegistry,
                 base: RequestConfig | None = None) -> None:
        self._settings = settings
        self._registry = registry
        self._base = base or base_config(settings)

    @property
    def max_body_bytes(self) -> int:
        return self._settings.server.max_body_bytes

    def resolve_config(self, body: dict[str, Any]) -> RequestConfig:
        """The YAML merged with the body's override objects (the shared base when there are none)."""
        return resolve(self._settings, body, self._base)

    def available_models(self) -> list[tuple[str, str]]:
        """(provider, "provider:model") for every model of every active provider."""
        return [(name, f"{name}:{model}") for name, p in self._settings.active_providers().items()
                for model in p.models]

    def select(self, call: ChatCall) -> Selection:
        allowed = allowed_providers(self._settings, call.config, call.family)
        manual = parse_manual(call.request.model, call.config, allowed)
        if manual is not None:
            return Selection(targets=[manual], source="manual_override", manual=True)
        return Selection(targets=[self._default_target(call.config, allowed)], source="default")

    def _default_target(self, config: RequestConfig, allowed: list[str]) -> Target:
        default = self._settings.server.default_model
        if default:
            target = parse_manual(default, config, allowed)
            if target is not None:
                return target
        for name in allowed:
            models = config.providers[name].models
            if models:
                return Target(provider=name, model=next(iter(models)))
        raise InvalidRequest("no model was given and no default model is configured; "
                             "use model \"provider:model\"", param="model")

    def _provider(self, call: ChatCall, target: Target):  # type: ignore[no-untyped-def]
        settings = call.config.providers.get(target.provider)
        provider = self._registry.get(target.provider, settings)
        if provider is None:
            raise UpstreamError(f"provider {target.provider!r} is not available", provider=target.provider)
        return provider

    async def complete(self, call: ChatCall) -> ChatOutcome:
        selection = self.select(call)
        target = selection.targets[0]
        provider = self._provider(call, target)
        response = await provider.complete(call.request, target.model)
        return ChatOutcome(response=response, target=target, selection=selection)

    async def stream(self, call: ChatCall) -> StreamOutcome:
        selection = self.select(call)
        target = selection.targets[0]
        provider = self._provider(call, target)
        events = provider.stream(call.request, target.model)  # type: ignore[assignment]
        first = await anext(events)
        return StreamOutcome(events=_prepend(first, events), target=target, selection=selection)


async def _prepend(first: StreamEvent, rest: AsyncGenerator[StreamEvent, None]) -> AsyncIterator[StreamEvent]:
    try:
        yield first
        async for event in rest:
            yield event
    finally:
        await rest.aclose()  # a client that hangs up closes the upstream call now, not at GC
