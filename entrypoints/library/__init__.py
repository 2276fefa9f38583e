"""AdaptiveProxy as a library: build the configuration in Python, then mount, run or call it.

    from entrypoints.library import ProxyBuilder, ProviderSettings

    proxy = (ProxyBuilder()
             .add_provider("openai", ProviderSettings(kind="openai", api_key="sk-..."))
             .build())
    proxy.run()                      # or mount proxy.asgi_app, or `async with proxy: proxy.chat`

See docs/library.md.
"""

from adapters.config import ConfigError
from application.chat import ChatCall, ChatOutcome, ChatService
from application.settings import (
    BreakerSettings,
    CorsSettings,
    FallbackSettings,
    ModelRouterSettings,
    ModelSettings,
    PromptCacheSettings,
    ProviderSettings,
    Settings,
)
from entrypoints.library.builder import ProxyBuilder
from entrypoints.library.proxy import Middleware, Proxy

__all__ = [
    "BreakerSettings",
    "ChatCall",
    "ChatOutcome",
    "ChatService",
    "ConfigError",
    "CorsSettings",
    "FallbackSettings",
    "Middleware",
    "ModelRouterSettings",
    "ModelSettings",
    "PromptCacheSettings",
    "ProviderSettings",
    "Proxy",
    "ProxyBuilder",
    "Settings",
]
