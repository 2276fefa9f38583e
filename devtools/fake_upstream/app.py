"""Raw ASGI application: routing, the generation flow with faults, and the control API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import orjson

from devtools.fake_upstream import anthropic_format, embeddings, gemini_format, openai_format, responses_format
from devtools.fake_upstream.faults import FakeState, resolve_fault
from devtools.fake_upstream.replies import InvalidSchema, Prompt, ToolPlan, build_reply, check_schema, parse_directives
from devtools.fake_upstream.responses import (
    Receive,
    Send,
    StreamEvent,
    abort,
    read_body,
    send_bytes,
    send_error,
    send_stream,
)

Scope = dict[str, Any]
GeminiCall = tuple[str, bool, bool]

GEMINI_PREFIXES = ("/v1beta/models", "/v1/models/", "/v1alpha/models")
MODEL_IDS = ["fake-model", "gpt-4o-mini", "claude-sonnet-4-5", "gemini-2.5-flash"]
OK_BODY = b'{"status":"ok"}'


class Family:
    """The pieces of one wire format that the generic request flow needs."""

    def __init__(self, name: str, module: Any) -> None:
        self.name = name
        self.render: Callable[[Prompt, Any, int], bytes] = module.render
        self.stream_events: Callable[[Prompt, Any, int], list[StreamEvent]] = module.stream_events
        self.error_body: Callable[[int, str], bytes] = module.error_body


OPENAI = Family("openai", openai_format)
RESPONSES = Family("responses", responses_format)
ANTHROPIC = Family("anthropic", anthropic_format)
GEMINI = Family("gemini", gemini_format)


class FakeUpstreamApp:
    """The ASGI callable.  One instance per :class:`FakeState`."""

    def __init__(self, state: FakeState | None = None) -> None:
        self.state = state or FakeState()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.route(scope, receive, send)
        elif kind == "lifespan":
            await lifespan(receive, send)

    async def route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Dispatch on method and path."""
        path: str = scope["path"]
        method: str = scope["method"]
        if method == "POST":
            if path in ("/v1/chat/completions", "/chat/completions"):
                await self.generate(OPENAI, scope, receive, send, None)
                return
            if path in ("/v1/responses", "/responses"):
                await self.generate(RESPONSES, scope, receive, send, None)
                return
            if path == "/v1/messages":
                await self.generate(ANTHROPIC, scope, receive, send, None)
                return
            if path.startswith(GEMINI_PREFIXES) and ":" in path:
                await self.gemini(scope, receive, send, path)
                return
            if path in ("/v1/embeddings", "/embeddings"):
                await self.simple(scope, receive, send, embeddings.render, OPENAI)
                return
            if path == "/v1/messages/count_tokens":
                await self.simple(scope, receive, send, anthropic_format.count_tokens, ANTHROPIC)
                return
            if path.startswith("/_fake/"):
                await self.control(path, receive, send)
                return
        elif method == "GET":
            if path == "/health":
                await send_bytes(send, 200, OK_BODY)
                return
            if path == "/_fake/stats":
                await send_bytes(send, 200, orjson.dumps(self.state.stats()))
                return
            if path.startswith(GEMINI_PREFIXES) or path.startswith(("/v1/models", "/models")):
                await self.models(scope, send, path)
                return
        family = GEMINI if path.startswith(("/v1beta", "/v1alpha")) else OPENAI
        await send_bytes(send, 404, family.error_body(404, f"No route for {method} {path}"))

    async def generate(
        self, family: Family, scope: Scope, receive: Receive, send: Send, gemini: GeminiCall | None
    ) -> None:
        """The common flow of a generation request: record, fault, reply.

        ``gemini`` is ``(model, stream, alt_sse)`` taken from a Gemini URL.
        """
        state = self.state
        raw = await read_body(receive)
        base_fault = state.take_fault()
        body = _loads(raw)
        state.record(scope["path"], scope["headers"], body)
        if not isinstance(body, dict):
            await send_bytes(send, 400, family.error_body(400, "Request body must be a JSON object"))
            return
        if family is OPENAI:
            prompt = openai_format.parse(body)
        elif family is RESPONSES:
            prompt = responses_format.parse(body)
        elif family is ANTHROPIC:
            prompt = anthropic_format.parse(body)
        elif gemini is not None:
            prompt = gemini_format.parse(body, gemini[0], gemini[1])
        else:
            raise ValueError("a Gemini request needs its URL parts")
        if family is not GEMINI:
            try:
                check_schemas(prompt)
            except InvalidSchema as exc:
                await send_bytes(send, 400, family.error_body(400, str(exc)))
                return
        if prompt.tool_result is None:
            directives = parse_directives(prompt.user_text)
        else:
            directives = parse_directives(prompt.user_text + " " + prompt.tool_result)
        fault = resolve_fault(base_fault, directives)
        if fault.active:
            if fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault.drop or (fault.cut_after is not None and not prompt.stream):
                await abort(send)
                return
            if fault.status:
                await send_error(send, family.error_body, fault)
                return
        reply = build_reply(prompt, directives, state.tool_plan)
        reply_id = state.next_id()
        if not prompt.stream:
            await send_bytes(send, 200, family.render(prompt, reply, reply_id))
            return
        events = family.stream_events(prompt, reply, reply_id)
        if gemini is not None and not gemini[2]:
            if fault.cut_after is not None:
                await abort(send)
            else:
                await send_bytes(send, 200, gemini_format.as_json_array(events))
            return
        if gemini is not None:
            events = gemini_format.as_sse(events)
        await send_stream(send, events, fault)

    async def gemini(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        """``/{version}/models/{model}:{method}`` (split on the last colon)."""
        rest = path[path.index("/models/") + len("/models/") :]
        model, _, method = rest.rpartition(":")
        if method == "generateContent":
            await self.generate(GEMINI, scope, receive, send, (model, False, False))
        elif method == "streamGenerateContent":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            sse = "sse" in query.get("alt", ())
            await self.generate(GEMINI, scope, receive, send, (model, True, sse))
        elif method in ("embedContent", "batchEmbedContents"):
            await self.simple(scope, receive, send, embeddings.render_gemini, GEMINI)
        elif method == "countTokens":
            await self.simple(scope, receive, send, lambda body: gemini_format.count_tokens(body, model), GEMINI)
        else:
            await read_body(receive)
            await send_bytes(send, 404, gemini_format.error_body(404, f"Unknown method {method}"))

    async def simple(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        render: Callable[[dict[str, Any]], bytes],
        family: Family,
    ) -> None:
        """Non-generation JSON endpoints (embeddings, token counting): no faults."""
        body = _loads(await read_body(receive))
        self.state.record(scope["path"], scope["headers"], body)
        if not isinstance(body, dict):
            await send_bytes(send, 400, family.error_body(400, "Request body must be a JSON object"))
            return
        await send_bytes(send, 200, render(body))

    async def models(self, scope: Scope, send: Send, path: str) -> None:
        """Model listing/lookup in the shape of the SDK that asked (by path and headers)."""
        headers = scope["headers"]
        self.state.record(path, headers, None)
        name = path.partition("/models")[2].strip("/")
        names = {key for key, _ in headers}
        if path.startswith(("/v1beta", "/v1alpha")) or b"x-goog-api-key" in names:
            name = name.removeprefix("models/")
            body = (
                gemini_format.model_info(name) if name else {"models": [gemini_format.model_info(m) for m in MODEL_IDS]}
            )
            await send_bytes(send, 200, orjson.dumps(body))
        elif name:
            await send_bytes(send, 200, openai_format.model_body(name))
        elif b"anthropic-version" in names:
            await send_bytes(send, 200, anthropic_format.models_body(MODEL_IDS))
        else:
            await send_bytes(send, 200, openai_format.models_body(MODEL_IDS))

    async def control(self, path: str, receive: Receive, send: Send) -> None:
        """``/_fake/script``, ``/_fake/default``, ``/_fake/tools``, ``/_fake/reset``."""
        body = _loads(await read_body(receive))
        state = self.state
        if path == "/_fake/reset":
            state.reset()
        elif path == "/_fake/script" and isinstance(body, dict) and isinstance(body.get("faults"), list):
            state.script.extend(f if isinstance(f, dict) else {} for f in body["faults"])
        elif path == "/_fake/tools" and (body is None or isinstance(body, dict)):
            state.tool_plan = ToolPlan.from_json(body) if body else None
        elif path == "/_fake/default" and isinstance(body, dict) and "fault" in body:
            fault = body["fault"]
            state.default_fault = fault if isinstance(fault, dict) and fault else None
        else:
            await send_bytes(send, 400, b'{"error":"bad control request"}')
            return
        await send_bytes(send, 200, orjson.dumps({"ok": True, "queued_faults": len(state.script)}))


def check_schemas(prompt: Prompt) -> None:
    """OpenAI and Anthropic take JSON Schema only: refuse what they would (Gemini's OBJECT)."""
    check_schema(prompt.json_schema, "the response format")
    for tool in prompt.tools:
        check_schema(tool.schema, f"tool {tool.name}")


def _loads(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


async def lifespan(receive: Receive, send: Send) -> None:
    """Minimal lifespan protocol support."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
