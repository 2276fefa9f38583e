"""`adaptive-proxy serve | fake-upstream | check-config | keys ... | db ...`."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from adapters.config import ConfigError, load_settings
from adapters.redaction import configured_secrets, install_log_redaction
from adapters.telemetry.logs import configure_logging
from application.settings import Settings
from entrypoints import admin_cli
from entrypoints.http.protocol import BoundedHttpToolsProtocol

log = logging.getLogger("adaptive_proxy")

CONFIG_ENV = "ADAPTIVE_PROXY_CONFIG"
ENV_FILES_ENV = "ADAPTIVE_PROXY_ENV_FILES"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adaptive-proxy", description="An adaptive LLM gateway.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the gateway over HTTP")
    serve.add_argument("--config", default="config.yaml", help="YAML config (default: config.yaml)")
    serve.add_argument("--host", help="bind address (default: server.host)")
    serve.add_argument("--port", type=int, help="port (default: server.port)")
    serve.add_argument("--workers", type=int, help="worker processes (default: server.workers)")
    serve.add_argument("--env-file", action="append", dest="env_files", metavar="FILE",
                       help="env file to read, repeatable; the first that sets a variable wins "
                            "(default: .env.local then .env)")

    check = sub.add_parser("check-config", help="validate a config file and print the providers")
    check.add_argument("--config", default="config.yaml")
    check.add_argument("--env-file", action="append", dest="env_files", metavar="FILE")

    fake = sub.add_parser("fake-upstream", help="run the fake OpenAI/Anthropic/Gemini upstream")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=int, default=9100)

    admin_cli.add_parsers(sub)  # keys create|list|revoke, db upgrade|current
    return parser


def _load(config: str, env_files: Sequence[str] | None) -> Settings:
    try:
        return load_settings(config, env_files)
    except ConfigError as exc:
        print(f"adaptive-proxy: config error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def describe_startup(settings: Settings) -> list[str]:
    """The startup lines: storage mode in one line, then each provider enabled or disabled."""
    stores = "Redis" if settings.redis.url else "in-memory stores"
    database = "configured database" if settings.database.url else "embedded SQLite"
    if not settings.redis.url and not settings.database.url:
        lines = [f"running on embedded defaults: {stores}, {database} (no redis.url, no database.url)"]
    else:
        lines = [f"storage: {stores}, {database}"]
    for name, provider in settings.providers.items():
        if provider.active:
            lines.append(f"provider {name} ({provider.kind}): enabled, {len(provider.models)} models")
        else:
            reason = "disabled in config" if not provider.enabled else "disabled: no api_key set"
            lines.append(f"provider {name} ({provider.kind}): {reason}")
    router = settings.model_router
    if not router.enabled:
        lines.append("routing: off (unprefixed models use server.default_model)")
    else:
        chooser = f"external router at {router.external.url}" if router.external.url else "built-in router"
        cache = router.cache
        kinds = "exact + semantic" if cache.semantic else "exact"
        cached = f"{kinds}, ttl {cache.ttl_s}s, {cache.max_entries} entries" if cache.enabled else "off"
        lines.append(f"routing: {chooser}, cost_bias {router.cost_bias}; decision cache: {cached}")
    return lines


def config_warnings(settings: Settings) -> list[str]:
    """Configuration problems that need the operator's action, each said once at start-up."""
    warnings: list[str] = []
    active = settings.active_providers()
    if not active:
        warnings.append("no provider is enabled: every chat request will be refused until one is; set an API key "
                        "(OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY, DEEPSEEK_API_KEY, GROQ_API_KEY or "
                        "XAI_API_KEY) or configure a provider")
    default = settings.server.default_model
    provider = default.partition(":")[0] if ":" in default else ""
    if provider and provider not in active:
        state = "not configured" if provider not in settings.providers else "disabled"
        warnings.append(f"server.default_model {default!r} names provider {provider!r}, which is {state}: "
                        "requests without a model fall back to the router or fail")
    if settings.auth.api_keys and not settings.auth.admin_token:
        warnings.append("auth.api_keys is on but auth.admin_token is empty: keys can only be created with "
                        "`adaptive-proxy keys create`, the admin API and dashboard are off")
    return warnings


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """How `serve` and the library's `Proxy.run` run uvicorn: uvloop, httptools, graceful shutdown."""
    return dict(host=host, port=port, log_level=settings.server.log_level, access_log=False,
                timeout_graceful_shutdown=settings.server.shutdown_timeout_s, lifespan="on",
                http=BoundedHttpToolsProtocol, loop="uvloop", server_header=False)


def _drained(signum: int, _frame: object) -> None:
    """Runs when uvicorn, having finished its graceful shutdown, re-raises SIGTERM/SIGINT."""
    raise SystemExit(0)


def exit_zero_after_drain() -> None:
    """Make a signal-initiated graceful shutdown exit with status 0.

    uvicorn handles SIGTERM/SIGINT itself (stop accepting, drain within `shutdown_timeout_s`),
    then restores the handlers it found and raises the signal again so the exit status reports
    it: 143 for SIGTERM, which orchestrators count as a crash. The handlers installed here are
    the ones it restores, so the re-raised signal ends the process with 0 after the drain. A
    signal before uvicorn starts (nothing accepted yet) also exits 0.
    """
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _drained)


def multiprocess_metrics_dir() -> str:
    """Point prometheus-client's multiprocess mode at a fresh directory (before any worker starts):
    each worker writes its values there and a scrape of any worker adds them all up."""
    import atexit
    import shutil
    import tempfile

    path = tempfile.mkdtemp(prefix="adaptive-proxy-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, True)
    return path


def serve(args: argparse.Namespace) -> None:
    settings = _load(args.config, args.env_files)
    host = args.host or settings.server.host
    port = args.port if args.port is not None else settings.server.port
    workers = args.workers or settings.server.workers
    configure_logging(settings.server)
    install_log_redaction(configured_secrets(settings))  # before any line that could quote one
    for line in describe_startup(settings):
        log.info(line)
    for line in config_warnings(settings):
        log.warning(line)
    import uvicorn

    common = {**uvicorn_options(settings, host, port), "log_config": None}  # uvicorn logs through ours
    exit_zero_after_drain()
    if workers > 1:
        # Each worker process builds its own app from the same config.
        os.environ[CONFIG_ENV] = os.path.abspath(args.config)
        if settings.telemetry.metrics.enabled:
            multiprocess_metrics_dir()
        if args.env_files:
            os.environ[ENV_FILES_ENV] = os.pathsep.join(os.path.abspath(f) for f in args.env_files)
        from entrypoints.workers import run_workers

        options = {k: v for k, v in common.items() if k not in ("host", "port")}
        run_workers("entrypoints.http.asgi:app_from_environment", workers, host, port, **options)
    else:
        from container import build_container
        from entrypoints.http.app import create_app

        uvicorn.run(create_app(build_container(settings)), **common)


def check_config(args: argparse.Namespace) -> None:
    settings = _load(args.config, args.env_files)
    for line in describe_startup(settings):
        print(line)
    for line in config_warnings(settings):
        print(f"warning: {line}")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        serve(args)
    elif args.command == "check-config":
        check_config(args)
    elif args.command == "fake-upstream":
        from devtools.fake_upstream import serve as serve_fake

        serve_fake(args.host, args.port)
    elif args.command in ("keys", "db"):
        admin_cli.run(args, _load)


if __name__ == "__main__":
    main()
