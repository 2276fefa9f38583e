"""Generated bad input for every route's parser: valid bodies with a few fields replaced, removed
or added (wrong types, odd shapes), plus a fake upstream that answers every provider kind and
flags any body that an upstream API would reject (garbage the gateway forwarded instead of
refusing). Used by tests/http/test_bad_input_property.py and by hand:
`.venv/bin/python -m tests.http.fuzz 3000` prints the distinct failures of 3,000 random cases."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import orjson
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent.parent / "fixtures"
ADMIN_TOKEN = "fuzz-admin-token"
PRICED = {"input_per_mtok": 1.0, "output_per_mtok": 2.0}


def config(tmp_path: Path) -> dict[str, Any]:
    return {
        "providers": {
            "up": {"kind": "openai", "base_url": "http://oai.test/v1", "api_key": "sk-up", "models": {"m1": PRICED}},
            "up_anthropic": {"kind": "anthropic", "base_url": "http://anth.test", "api_key": "sk-anth",
                             "models": {"claude-x": PRICED}},
            "up_gemini": {"kind": "gemini", "base_url": "http://gem.test", "api_key": "gem-key",
                          "models": {"gemini-x": PRICED}},
        },
        "fallback": {"mode": "off"},
        "database": {"url": f"sqlite:///{tmp_path / 'fuzz.db'}"},
        "usage": {"enabled": True, "flush_interval_ms": 5, "spill_path": str(tmp_path / "spill.jsonl")},
        "auth": {"admin_token": ADMIN_TOKEN},
    }


MODELS = ["up:m1", "up_anthropic:claude-x", "up_gemini:gemini-x"]
TOOL = {"type": "function", "function": {"name": "get", "description": "d",
                                         "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}
OPENAI = {
    "model": "up:m1", "stream": False, "temperature": 0.5, "max_tokens": 16, "stop": ["x"], "n": 1,
    "messages": [{"role": "system", "content": "be brief"},
                 {"role": "user", "content": [{"type": "text", "text": "hi"},
                                              {"type": "image_url", "image_url": {"url": "http://i.test/a.png"}}]},
                 {"role": "assistant", "content": None,
                  "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get", "arguments": "{}"}}]},
                 {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
    "tools": [TOOL], "tool_choice": "auto", "reasoning_effort": "low",
    "response_format": {"type": "json_schema", "json_schema": {"name": "r", "schema": {"type": "object"}}},
    "stream_options": {"include_usage": True}, "seed": 1, "top_p": 1,
    "provider_configs": {"up": {"timeout_ms": 5000}}, "prompt_cache": {"enabled": False},
}
ANTHROPIC = {
    "model": "up_anthropic:claude-x", "max_tokens": 16, "stream": False, "system": [{"type": "text", "text": "s"}],
    "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"},
                                              {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                                           "data": "iVBOR"}}]},
                 {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get", "input": {}}]},
                 {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]}],
    "tools": [{"name": "get", "description": "d", "input_schema": {"type": "object"}}],
    "tool_choice": {"type": "auto"}, "stop_sequences": ["x"], "temperature": 0.5, "top_k": 3,
    "thinking": {"type": "enabled", "budget_tokens": 1024}, "metadata": {"user_id": "u"},
    "provider_configs": {"up_anthropic": {"timeout_ms": 5000}},
}
GEMINI = {
    "contents": [{"role": "user", "parts": [{"text": "hi"},
                                            {"inlineData": {"mimeType": "image/png", "data": "iVBOR"}}]},
                 {"role": "model", "parts": [{"functionCall": {"name": "get", "args": {"q": "a"}}}]},
                 {"role": "user", "parts": [{"functionResponse": {"name": "get", "response": {"r": 1}}}]}],
    "systemInstruction": {"parts": [{"text": "s"}]},
    "tools": [{"functionDeclarations": [{"name": "get", "description": "d", "parameters": {"type": "OBJECT"}}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"temperature": 0.5, "maxOutputTokens": 16, "stopSequences": ["x"], "topK": 3,
                         "responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 0}},
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
    "provider_configs": {"up_gemini": {"timeout_ms": 5000}}, "fallback": {"max_retries": 0},
}
RESPONSES = {
    "model": "up:m1", "stream": False, "instructions": "be brief", "max_output_tokens": 16, "store": False,
    "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
              {"type": "function_call", "call_id": "c1", "name": "get", "arguments": "{}"},
              {"type": "function_call_output", "call_id": "c1", "output": "ok"}],
    "tools": [{"type": "function", "name": "get", "parameters": {"type": "object"}}],
    "tool_choice": "auto", "reasoning": {"effort": "low"}, "text": {"format": {"type": "text"}}, "temperature": 0.5,
    "model_router": {"cost_bias": 0.5},
}
SELECT = {"prompt": "hi", "cost_bias": 0.5, "tools": False,
          "models": [{"provider": "a", "model": "x", "input_per_mtok": 1, "output_per_mtok": 2, "quality": 0.5},
                     {"provider": "b", "model": "y", "input_per_mtok": 3, "output_per_mtok": 4, "quality": 0.9}]}
KEY = {"name": "k", "organization_id": "acme", "rate_limit_rpm": 60, "budget_limit": 12.5,
       "budget_period": "monthly", "expires_at": "2999-01-01T00:00:00Z", "metadata": {"env": "prod"}}
GEMINI_PATH = "/v1beta/models/up_gemini:gemini-x"


@dataclass(frozen=True)
class Route:
    """A route, the family whose error shape it answers in, and a valid body to start from."""
    method: str
    path: str
    family: str
    template: dict[str, Any]
    chat: bool = False  # an admitted request of this route is metered (one usage row)
    models: bool = False  # the template's "model" may be swapped for another provider kind's


ROUTES = [
    Route("POST", "/v1/chat/completions", "openai", OPENAI, chat=True, models=True),
    Route("POST", "/v1/messages", "anthropic", ANTHROPIC, chat=True, models=True),
    Route("POST", "/v1/messages/count_tokens", "anthropic", ANTHROPIC, models=True),
    Route("POST", f"{GEMINI_PATH}:generateContent", "gemini", GEMINI, chat=True),
    Route("POST", f"{GEMINI_PATH}:streamGenerateContent?alt=sse", "gemini", GEMINI, chat=True),
    Route("POST", "/v1/models/up:m1:generateContent", "gemini", GEMINI, chat=True),
    Route("POST", f"{GEMINI_PATH}:countTokens", "gemini", GEMINI),
    Route("POST", "/v1/generate", "gemini", {**GEMINI, "model": "up_anthropic:claude-x"}, chat=True, models=True),
    Route("POST", "/v1/responses", "openai", RESPONSES, chat=True, models=True),
    Route("POST", "/v1/select-model", "openai", SELECT),
    Route("POST", "/admin/api-keys", "openai", KEY),
    Route("PATCH", "/admin/api-keys/{key_id}", "openai", KEY),
    Route("POST", "/admin/api-keys/verify", "openai", {"key": "apk_" + "a" * 43}),
    Route("POST", "/admin/credits/adjust", "openai", {"organization_id": "acme", "amount": "1.5",
                                                      "description": "d"}),
]

# Field names worth adding where they do not belong (every family's own, so translation sees them).
VOCABULARY = sorted({*OPENAI, *ANTHROPIC, *GEMINI, *RESPONSES, *SELECT, *KEY, "role", "content", "parts", "text",
                     "type", "function", "functionCall", "name", "arguments", "input", "json_schema", "source",
                     "image_url", "url", "base_url", "kind", "api_key", "generateContentRequest", "tool_calls",
                     "inlineData", "thinkingConfig", "previous_response_id", "format", "schema", "effort",
                     "max_retries", "timeout_ms", "cost_bias", "enabled", "ttl_s", "semantic_threshold", "new"})

scalars = (st.none() | st.booleans() | st.integers(-2, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=6) | st.sampled_from(["user", "auto", "text", "up:m1", "http://x.test", "json_schema",
                                                    "openai", "anthropic", "image_url", "function", "model"]))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(VOCABULARY) | st.text(max_size=4), inner, max_size=3), max_leaves=8)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (dict keys and list indexes), the root excluded."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.append((*prefix, key))
        found.extend(paths(child, (*prefix, key)))
    return found


def _parent(body: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        body = body[key]
    return body


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any], models: bool = False) -> Any:
    """`template` with one to three fields replaced, removed or added; now and then not an object."""
    if draw(st.integers(0, 40)) == 0:
        return draw(json_values)
    body = copy.deepcopy(template)
    if models and "model" in body:
        body["model"] = draw(st.sampled_from(MODELS))
    if "stream" in body or draw(st.booleans()):
        body["stream"] = draw(st.booleans())
    for _ in range(draw(st.integers(1, 3))):
        targets = paths(body)
        op = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if op == "add" or not targets:
            containers = [p for p in targets if isinstance(_parent(body, (*p, 0)), dict)]
            where = draw(st.sampled_from([(), *containers]))
            node = _parent(body, (*where, 0))
            node[draw(st.sampled_from(VOCABULARY))] = draw(json_values)
            continue
        path = draw(st.sampled_from(targets))
        parent = _parent(body, path)
        if op == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return body


# --- the upstream -----------------------------------------------------------------------------

OPENAI_OK = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m1",
             "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}
ANTHROPIC_OK = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x", "stop_sequence": None,
                "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1}}
GEMINI_OK = {"candidates": [{"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}],
             "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
             "modelVersion": "gemini-x", "responseId": "r1"}
SSE = {"content-type": "text/event-stream"}


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def openai_problems(body: dict[str, Any]) -> list[str]:
    """What the OpenAI API would refuse in a chat-completions body (the fields the fuzz touches)."""
    problems = []
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["messages"]
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            problems.append("messages[].role")
        elif not (m.get("content") is None or isinstance(m["content"], str) or (
                isinstance(m["content"], list) and all(isinstance(p, dict) and isinstance(p.get("type"), str)
                                                       for p in m["content"]))):
            problems.append("messages[].content")
        elif not isinstance(m.get("tool_calls", []), list):
            problems.append("messages[].tool_calls")
    stop = body.get("stop")
    if not (stop is None or isinstance(stop, str) or _is_str_list(stop)):
        problems.append("stop")
    for key in ("temperature", "top_p", "frequency_penalty", "presence_penalty"):
        if not _number(body.get(key)):
            problems.append(key)
    for key in ("max_tokens", "max_completion_tokens", "n", "seed"):
        if body.get(key) is not None and (not isinstance(body[key], int) or isinstance(body[key], bool)):
            problems.append(key)
    if body.get("reasoning_effort") is not None and not isinstance(body["reasoning_effort"], str):
        problems.append("reasoning_effort")
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(
            isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str)
            for t in tools)):
        problems.append("tools")
    choice = body.get("tool_choice")
    if not (choice is None or isinstance(choice, str) or isinstance(choice, dict)):
        problems.append("tool_choice")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or not isinstance(fmt.get("type"), str) or (
            fmt.get("type") == "json_schema" and not isinstance(fmt.get("json_schema"), dict))):
        problems.append("response_format")
    if not isinstance(body.get("stream_options", {}), dict):
        problems.append("stream_options")
    if body.get("stream") is not None and not isinstance(body["stream"], bool):
        problems.append("stream")
    if any(k in body for k in ("provider_configs", "fallback", "model_router", "prompt_cache")):
        problems.append("gateway fields")
    return problems


def anthropic_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(body.get("max_tokens"), int) or isinstance(body["max_tokens"], bool):
        problems.append("max_tokens")
    messages = body.get("messages")
    if not isinstance(messages, list):
        return [*problems, "messages"]
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            problems.append("messages[].role")
        elif not (isinstance(m.get("content"), str) or (isinstance(m.get("content"), list) and all(
                isinstance(p, dict) and isinstance(p.get("type"), str) for p in m["content"]))):
            problems.append("messages[].content")
    system = body.get("system")
    if not (system is None or isinstance(system, str) or (isinstance(system, list) and all(
            isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in system))):
        problems.append("system")
    if body.get("stop_sequences") is not None and not _is_str_list(body["stop_sequences"]):
        problems.append("stop_sequences")
    for key in ("temperature", "top_p"):
        if not _number(body.get(key)):
            problems.append(key)
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(
            isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools)):
        problems.append("tools")
    if body.get("tool_choice") is not None and not isinstance(body["tool_choice"], dict):
        problems.append("tool_choice")
    if body.get("thinking") is not None and not isinstance(body["thinking"], dict):
        problems.append("thinking")
    if any(k in body for k in ("provider_configs", "fallback", "model_router", "prompt_cache")):
        problems.append("gateway fields")
    return problems


def gemini_problems(body: dict[str, Any]) -> list[str]:
    problems = []
    contents = body.get("contents")
    if not isinstance(contents, list):
        return ["contents"]
    for c in contents:
        if not isinstance(c, dict) or not isinstance(c.get("parts"), list) or not all(
                isinstance(p, dict) for p in c["parts"]):
            problems.append("contents[].parts")
        elif any(not isinstance(p.get("functionCall") or {}, dict) for p in c["parts"]):
            problems.append("functionCall")
    system = body.get("systemInstruction")
    if system is not None and not isinstance(system, str) and not (
            isinstance(system, dict) and isinstance(system.get("parts"), list)):
        problems.append("systemInstruction")
    tools = body.get("tools")
    if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
        problems.append("tools")
    config = body.get("generationConfig")
    if config is not None and not isinstance(config, dict):  # null counts as absent, like protobuf JSON
        problems.append("generationConfig")
    elif isinstance(config, dict) and config.get("stopSequences") is not None and not _is_str_list(
            config["stopSequences"]):
        problems.append("stopSequences")
    if body.get("safetySettings") is not None and not isinstance(body["safetySettings"], list):
        problems.append("safetySettings")
    return problems


@dataclass
class FuzzUpstream:
    """Answers every provider kind, streamed or not; notes each body an upstream would refuse."""
    calls: int = 0
    garbage: list[tuple[str, list[str], Any]] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.calls += 1
        host = request.url.host.split(".")[0]
        body = orjson.loads(request.content) if request.content else {}
        path = request.url.path
        if host == "oai":
            problems = openai_problems(body)
            stream = body.get("stream") is True
            answer = (FIXTURES / "openai_stream_tools.sse", OPENAI_OK)
        elif host == "anth":
            if path.endswith("/count_tokens"):
                return httpx2.Response(200, json={"input_tokens": 3})
            problems = anthropic_problems(body)
            stream = body.get("stream") is True
            answer = (FIXTURES / "anthropic_stream_tools.sse", ANTHROPIC_OK)
        else:
            if path.endswith(":countTokens"):
                inner = body.get("generateContentRequest", body)
                problems = gemini_problems({k: v for k, v in inner.items() if k != "model"})
                self._note(path, problems, body)
                return httpx2.Response(200, json={"totalTokens": 3})
            problems = gemini_problems(body)
            stream = path.endswith(":streamGenerateContent")
            answer = (FIXTURES / "gemini_stream_tools.sse", GEMINI_OK)
        self._note(path, problems, body)
        if problems:  # what the provider would do with it
            return httpx2.Response(400, json={"error": {"message": f"bad {problems}", "type": "invalid_request_error"}})
        if stream:
            return httpx2.Response(200, content=answer[0].read_bytes(), headers=SSE)
        return httpx2.Response(200, json=answer[1])

    def _note(self, path: str, problems: list[str], body: Any) -> None:
        if problems:
            self.garbage.append((path, problems, body))


# --- the gateway under test -------------------------------------------------------------------

FAMILY_SHAPE = {
    "openai": lambda b: isinstance(b.get("error"), dict) and isinstance(b["error"].get("message"), str)
    and isinstance(b["error"].get("type"), str),
    "anthropic": lambda b: b.get("type") == "error" and isinstance(b.get("error"), dict)
    and isinstance(b["error"].get("type"), str) and isinstance(b["error"].get("message"), str),
    "gemini": lambda b: isinstance(b.get("error"), dict) and isinstance(b["error"].get("code"), int)
    and isinstance(b["error"].get("status"), str) and isinstance(b["error"].get("message"), str),
}


class Harness:
    """One gateway (TestClient, metered, SQLite) driven from synchronous code on its own loop,
    so hypothesis runs thousands of cases against one app."""

    def __init__(self, tmp_path: Path) -> None:
        import asyncio

        self.runner = asyncio.Runner()
        self.upstream = FuzzUpstream()
        self.admitted = 0  # chat requests answered 2xx
        self.refused = 0
        self.expected_rows = 0  # metered requests served or sent upstream: one usage row each
        self.tmp_path = tmp_path
        self.runner.run(self._start())

    async def _start(self) -> None:
        from blacksheep.testing import TestClient
        from dependency_injector import providers

        from adapters.config import settings_from_dict
        from container import build_container
        from entrypoints.http.app import create_app

        self.container = build_container(settings_from_dict(config(self.tmp_path)))
        self.container.http_client.override(
            providers.Object(httpx2.AsyncClient(transport=httpx2.MockTransport(self.upstream))))
        self.app = create_app(self.container)
        await self.app.start()
        self.client = TestClient(self.app)
        created = await self._send("POST", "/admin/api-keys", orjson.dumps({"name": "fuzz"}))
        self.key_id = str(orjson.loads(created[1])["id"])

    async def _send(self, method: str, path: str, raw: bytes) -> tuple[int, bytes]:
        from blacksheep.contents import Content

        headers = {"authorization": f"Bearer {ADMIN_TOKEN}"} if path.startswith("/admin") else {}
        response = await getattr(self.client, method.lower())(
            path.replace("{key_id}", getattr(self, "key_id", "0")), headers=headers,
            content=Content(b"application/json", raw))
        return response.status, await response.read() or b""

    def problem(self, route: Route, body: Any) -> str | None:
        """Send `body` to `route`; what is wrong with the answer, or None."""
        calls = self.upstream.calls
        sent = body if isinstance(body, bytes) else orjson.dumps(body)
        status, raw = self.runner.run(self._send(route.method, route.path, sent))
        if route.path.startswith("/v1") and (status < 400 or self.upstream.calls > calls):
            self.expected_rows += 1
        if status >= 500:
            return f"{status} {raw[:300]!r}"
        if status >= 400:
            self.refused += 1
            try:
                answer = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return f"{status} not JSON: {raw[:200]!r}"
            if not isinstance(answer, dict) or not FAMILY_SHAPE[route.family](answer):
                return f"{status} not the {route.family} error shape: {raw[:200]!r}"
            return None
        if route.chat:
            self.admitted += 1
        if b"internal error" in raw:
            return f"{status} stream ended with an internal error: {raw[-300:]!r}"
        return None

    def usage_rows(self) -> int:
        from sqlalchemy import func, select

        from adapters.sql.models import usage

        async def count() -> int:
            assert await self.container.metering.usage_writer().flush()
            async with self.container.metering.engine().connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(usage))).scalar_one())

        return self.runner.run(count())

    def close(self) -> None:
        self.runner.run(self.app.stop())
        self.runner.close()


def explore(cases: int) -> None:
    """Print the distinct failures (by route and first line) of `cases` random cases."""
    import tempfile

    from hypothesis import given, settings

    harness = Harness(Path(tempfile.mkdtemp()))
    seen: dict[tuple[str, str], Any] = {}

    @settings(max_examples=cases, database=None, deadline=None)
    @given(st.data())
    def run(data: st.DataObject) -> None:
        route = data.draw(st.sampled_from(ROUTES))
        body = data.draw(mutated(route.template, route.models))
        before = len(harness.upstream.garbage)
        found = harness.problem(route, body)
        if found is not None:
            seen.setdefault((route.path, found[:90]), body)
        for path, problems, _ in harness.upstream.garbage[before:]:
            seen.setdefault((route.path, f"garbage to {path}: {problems}"), body)

    run()
    for (path, what), body in sorted(seen.items()):
        print(path, "|", what, "\n    ", orjson.dumps(body)[:400].decode())
    print(len(seen), "distinct; admitted", harness.admitted, "refused", harness.refused,
          "usage rows", harness.usage_rows(), "expected", harness.expected_rows)
    harness.close()


if __name__ == "__main__":
    import sys

    explore(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
