"""A tiny chat front end: the gateway's application layer from a terminal, no web framework.

    python examples/chat_cli.py --base-url http://127.0.0.1:9100/v1 "Say hi"
    echo "Say hi" | python examples/chat_cli.py --base-url http://127.0.0.1:9100/v1 --model small

The settings come from the library builder, the services from the dependency-injection
container (`build_container`, no BlackSheep app), and the chat goes through `ChatService`:
model selection, circuit breakers, retries and fallback all apply, exactly as over HTTP.
With `--usage-db URL` the call is metered like an HTTP request (one usage row, priced), because
metering lives in the chat use case (`MeteredChat`), not in the HTTP layer; with `--gateway-key`
too, API keys are on and the key is checked, rate-limited and charged as over HTTP.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from application.chat import ChatCall
from application.settings import Settings
from container import build_container
from domain.chat import ChatRequest, Message, TextPart
from domain.errors import ProxyError
from entrypoints.library import ProxyBuilder


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Chat through AdaptiveProxy's application layer.")
    parser.add_argument("prompt", nargs="?", help="the prompt (default: read from stdin)")
    parser.add_argument("--base-url", required=True, help="an OpenAI-compatible upstream, e.g. http://host/v1")
    parser.add_argument("--api-key", default=os.environ.get("UPSTREAM_API_KEY", "unused"))
    parser.add_argument("--model", action="append", dest="models", metavar="NAME",
                        help="a model the upstream serves, repeatable; the first is the default")
    parser.add_argument("--fallback-model", action="append", default=[], metavar="NAME",
                        help="a second upstream model to fall back to (same server), repeatable")
    parser.add_argument("--usage-db", metavar="URL", help="record usage in this database (e.g. sqlite:///usage.db)")
    parser.add_argument("--gateway-key", metavar="KEY", help="an AdaptiveProxy API key (turns API keys on; "
                        "needs --usage-db, where the key is stored)")
    return parser.parse_args(argv)


def settings_for(args: argparse.Namespace) -> Settings:
    models = args.models or ["fake-small"]
    builder = (ProxyBuilder()
               .add_openai_compatible_provider("upstream", base_url=args.base_url, api_key=args.api_key,
                                               models=models)
               .default_model(f"upstream:{models[0]}")
               .with_model_router(enabled=False)  # the model named on the command line, not a routed one
               )
    if args.usage_db:
        builder.with_database(args.usage_db).with_setting("usage.flush_interval_ms", 5)
    else:
        builder.with_setting("usage.enabled", False)  # no usage ledger: nothing here is billed
    if args.gateway_key:
        builder.enable_api_key_auth()
    if args.fallback_model:
        builder.add_openai_compatible_provider("backup", base_url=args.base_url, api_key=args.api_key,
                                               models=args.fallback_model)
    return builder.build_settings()


async def chat(settings: Settings, prompt: str, gateway_key: str | None = None) -> str:
    container = build_container(settings)
    await container.init_resources()  # type: ignore[misc]
    try:
        service = container.chat_service()
        request = ChatRequest(model="", messages=[Message(role="user", content=[TextPart(prompt)])])
        outcome = await service.complete(ChatCall(request, "chat_completions", api_key=gateway_key))
        lines = [outcome.response.text(), f"[served by {outcome.target.key} ({outcome.selection.source})]"]
        if outcome.attempts.errors:  # a fallback happened: say what failed first
            lines.append(f"[tried {', '.join(outcome.attempts.tried)}; errors: {'; '.join(outcome.attempts.errors)}]")
        return "\n".join(lines)
    finally:
        await container.shutdown_resources()  # type: ignore[misc]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    prompt = args.prompt if args.prompt is not None else sys.stdin.read().strip()
    if not prompt:
        print("chat_cli: give a prompt as an argument or on stdin", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(chat(settings_for(args), prompt, args.gateway_key)))
    except ProxyError as exc:
        print(f"chat_cli: {exc.kind}: {exc.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
