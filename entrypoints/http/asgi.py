"""ASGI entry for multi-worker serving: each worker builds its app from the config in the env."""

from __future__ import annotations

import os

from blacksheep import Application

from adapters.config import load_settings
from adapters.redaction import configured_secrets, install_log_redaction
from adapters.telemetry.logs import configure_logging
from container import build_container
from entrypoints.http.app import create_app


def app_from_environment() -> Application:
    env_files = os.environ.get("ADAPTIVE_PROXY_ENV_FILES")
    settings = load_settings(os.environ["ADAPTIVE_PROXY_CONFIG"],
                             env_files.split(os.pathsep) if env_files else None)
    configure_logging(settings.server)  # a worker process: nothing configured its logging yet
    install_log_redaction(configured_secrets(settings))
    return create_app(build_container(settings))
