"""`adaptive-proxy keys create|list|revoke` and `adaptive-proxy db upgrade|current`.

They use the same database as `serve` with the same config (an empty `database.url` is the
embedded SQLite file under `./var`, so run them from the directory you serve from).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from adapters.sql.engine import database_url
from adapters.sql.migrate import current_revision, head_revision, upgrade
from application.keys import KeyService
from application.settings import Settings
from domain.errors import ProxyError

Loader = Callable[[str, Sequence[str] | None], Settings]


def add_parsers(sub: Any) -> None:
    keys = sub.add_parser("keys", help="create, list and revoke API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create a key and print it (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--org", dest="organization_id", help="organization the key belongs to")
    create.add_argument("--rpm", dest="rate_limit_rpm", type=int, help="requests per minute for this key")
    create.add_argument("--budget", dest="budget_limit", help="spend limit, in the credits currency")
    create.add_argument("--budget-period", choices=["daily", "weekly", "monthly"], help="when the budget resets")
    create.add_argument("--expires-at", help="ISO 8601 date-time after which the key stops working")
    create.add_argument("--metadata", help="JSON object stored with the key")
    listing = keys_sub.add_parser("list", help="list keys (newest first)")
    listing.add_argument("--org", dest="organization_id")
    listing.add_argument("--active", action="store_true", help="only usable keys")
    listing.add_argument("--limit", type=int, default=100)
    revoke = keys_sub.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id", type=int)
    for parser in (create, listing, revoke):
        _common(parser)

    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    _common(db_sub.add_parser("upgrade", help="apply every pending migration"))
    _common(db_sub.add_parser("current", help="print the applied and the latest revision"))


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--env-file", action="append", dest="env_files", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, load: Loader) -> None:
    settings = load(args.config, args.env_files)
    try:
        asyncio.run(_dispatch(args, settings))
    except ProxyError as exc:
        print(f"adaptive-proxy: {exc.message}", file=sys.stderr)
        raise SystemExit(1) from None


async def _dispatch(args: argparse.Namespace, settings: Settings) -> None:
    from container import build_container  # the one composition root: the same services as `serve`

    metering = build_container(settings).metering
    engine = metering.engine()
    try:
        if args.command == "db":
            await _db(args, engine, settings)
            return
        if settings.database.auto_migrate:
            await upgrade(engine)
        await _keys(args, metering.key_service())
    finally:
        await engine.dispose()


async def _db(args: argparse.Namespace, engine: Any, settings: Settings) -> None:
    if args.db_command == "upgrade":
        await upgrade(engine)
    current, head = await current_revision(engine), head_revision()
    where = database_url(settings.database.url)
    if args.json:
        print(json.dumps({"current": current, "head": head}))
    else:
        print(f"database revision {current or '(none)'} (latest {head}) at {_redact(where)}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


async def _keys(args: argparse.Namespace, keys: KeyService) -> None:
    from entrypoints.http.admin_routes import key_json

    if args.keys_command == "create":
        metadata = json.loads(args.metadata) if args.metadata else None
        issued = await keys.issue(args.name, organization_id=args.organization_id,
                                  rate_limit_rpm=args.rate_limit_rpm, budget_limit=args.budget_limit,
                                  budget_period=args.budget_period, expires_at=args.expires_at, metadata=metadata)
        if args.json:
            print(json.dumps({**key_json(issued.key), "key": issued.plaintext}))
        else:
            print(f"created key {issued.key.id} ({issued.key.name}); it is shown only this once:")
            print(issued.plaintext)
    elif args.keys_command == "list":
        found = await keys.list(args.organization_id, not args.active, args.limit)
        if args.json:
            print(json.dumps([key_json(k) for k in found]))
        for key in [] if args.json else found:
            data = key_json(key)
            print(f"{key.id:>6}  {key.key_prefix}...  {data['state']:<8}  org={key.organization_id or '-'}  "
                  f"rpm={key.rate_limit_rpm or '-'}  {key.name}")
    elif args.keys_command == "revoke":
        key = await keys.revoke(args.key_id)
        print(json.dumps(key_json(key)) if args.json else f"revoked key {key.id} ({key.key_prefix}...)")
