"""BlackSheep's service lookup backed by the dependency-injector container.

Handlers take application services as plain annotated parameters (`chat: ChatService`); each
lookup calls the container provider, so Factory services are fresh per request and container
overrides take effect immediately. (dependency-injector's @inject markers must not be used on
BlackSheep handlers: BlackSheep binds those parameters itself.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

T = TypeVar("T")


class ContainerServices:
    def __init__(self, providers: Mapping[Any, Callable[[], Any]] | None = None) -> None:
        self._providers: dict[type[Any] | str, Callable[[], Any]] = dict(providers or {})

    def __contains__(self, key: object) -> bool:
        return key in self._providers

    def register(self, obj_type: type[Any] | str, *args: Any, **kwargs: Any) -> None:
        # BlackSheep >= 2.6.1 registers its own objects as register(type, instance=obj).
        instance = kwargs.get("instance")
        value = instance if instance is not None else (args[0] if args else obj_type)
        if isinstance(value, type):
            self._providers[obj_type] = value
        else:
            self._providers[obj_type] = lambda: value

    def resolve(self, obj_type: type[T] | str, *args: Any, **kwargs: Any) -> T:
        return cast(T, self._providers[obj_type]())

    def build_provider(self) -> ContainerServices:
        return self
