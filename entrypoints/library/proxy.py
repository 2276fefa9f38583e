"""`Proxy`: the gateway as an object — an ASGI app to mount, a server to run, or a ChatService to
call from Python. Built from validated `Settings` only, so it never holds a half configuration.

BlackSheep and uvicorn are imported when a Proxy is made or run, not when this module is, so a
front end that only needs the builder and the application layer never loads the web stack.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from adapters.config import ConfigError
from application.chat import ChatService
from application.settings import Settings
from domain.telemetry import RequestObserver

if TYPE_CHECKING:
    import uvicorn
    from blacksheep import Application

    from container import Container
    from entrypoints.library.builder import ProxyBuilder

log = logging.getLogger("adaptive_proxy")
# `async def middleware(request, next_handler) -> Response` (BlackSheep's Request and Response).
Middleware = Callable[[Any, Callable[[Any], Awaitable[Any]]], Awaitable[Any]]


def check_middleware(middleware: object, index: int) -> None:
    """Fail at build time, not on the first request, for a middleware that cannot be called."""
    name = getattr(middleware, "__qualname__", None) or type(middleware).__name__
    call = type(middleware).__call__  # an instance of a class with `async def __call__`
    if not callable(middleware) or not (inspect.iscoroutinefunction(middleware)
                                        or inspect.iscoroutinefunction(call)):
        raise ConfigError(f"middlewares[{index}] {name}: expected an async function (request, next_handler)")
    try:
        inspect.signature(middleware).bind(None, None)
    except TypeError:
        raise ConfigError(f"middlewares[{index}] {name}: must take two arguments (request, next_handler)") from None
    except ValueError:  # no signature to inspect
        pass


class Proxy:
    """The gateway: `.asgi_app`, `.run()`, `await .start()` / `.stop()` (or `async with`), `.chat`."""

    def __init__(self, settings: Settings, *, middlewares: Sequence[Middleware] = ()) -> None:
        if not isinstance(settings, Settings):
            raise TypeError("Proxy needs validated Settings: use ProxyBuilder().build() or Proxy.from_yaml(path)")
        for index, middleware in enumerate(middlewares):
            check_middleware(middleware, index)
        from container import build_container
        from entrypoints.http.app import create_app

        self._settings = settings
        self._container = build_container(settings)
        self._app = create_app(self._container, middlewares=list(middlewares))

    @classmethod
    def from_builder(cls, builder: ProxyBuilder) -> Proxy:
        return builder.build()

    @classmethod
    def from_yaml(cls, path: str | Path, env_files: Sequence[str | Path] = ()) -> Proxy:
        from entrypoints.library.builder import ProxyBuilder

        return ProxyBuilder.from_yaml(path, env_files).build()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def container(self) -> Container:
        """The dependency-injection container (override providers here in tests)."""
        return self._container

    @property
    def asgi_app(self) -> Application:
        """The ASGI application. ASGI lifespan starts and stops it; a host that does not forward
        lifespan to mounted apps should await `start()` / `stop()` in its own."""
        return self._app

    @property
    def chat(self) -> ChatService:
        """The chat use case, for calling the gateway from Python without HTTP."""
        service: ChatService = self._container.chat_service()
        return service

    def add_observer(self, observer: RequestObserver) -> None:
        """Hear one `RequestRecord` per finished chat request (HTTP or `.chat`); `observe` must not block."""
        self._container.observers().add(observer)

    @property
    def started(self) -> bool:
        return bool(self._app.started)

    async def start(self) -> None:
        """Open the clients and background writers (what a server's startup does)."""
        await self._app.start()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        """Flush and close them; a no-op when not started."""
        if self._app.started:
            await self._app.stop()  # type: ignore[no-untyped-call]

    async def __aenter__(self) -> Proxy:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def _uvicorn_options(self, host: str | None, port: int | None) -> dict[str, Any]:
        from entrypoints.cli import config_warnings, describe_startup, uvicorn_options

        server = self._settings.server
        for line in describe_startup(self._settings):
            log.info(line)
        for line in config_warnings(self._settings):
            log.warning(line)
        return uvicorn_options(self._settings, host or server.host, server.port if port is None else port)

    def run(self, host: str | None = None, port: int | None = None) -> None:
        """Serve with uvicorn until SIGINT/SIGTERM, with the options of `adaptive-proxy serve`
        (graceful shutdown within `server.shutdown_timeout_s`). One process: for several workers
        use `adaptive-proxy serve --workers N`."""
        if self._settings.server.workers > 1:
            raise ConfigError("server.workers: Proxy.run serves in this process; "
                              "use `adaptive-proxy serve --workers N` for several")
        import uvicorn

        uvicorn.run(self._app, **self._uvicorn_options(host, port))

    def server(self, host: str | None = None, port: int | None = None) -> uvicorn.Server:
        """A configured uvicorn server with the same options, for an event loop you already run:
        `await proxy.server().serve()`; set `server.should_exit = True` to stop it gracefully."""
        import uvicorn

        return uvicorn.Server(uvicorn.Config(self._app, **self._uvicorn_options(host, port)))
